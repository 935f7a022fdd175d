"""Capture: one module per AI coding tool, turning its files into sessions."""
