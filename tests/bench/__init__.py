"""Smoke tests of the benchmark harness (structure only; no timing is asserted)."""
