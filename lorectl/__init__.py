"""lorectl: the thin command-line client (also installed as `lore`)."""
