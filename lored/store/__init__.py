"""Lore."""
