"""Lore Cloud web dashboard."""
