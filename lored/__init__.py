"""lored: the user-machine side (capture, store, crypto, sync, daemon), minus the terminal UI."""
