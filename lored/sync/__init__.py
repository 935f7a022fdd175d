"""Sync: pure planning, the engine that executes plans, the Remote protocol."""
