"""lored: everything on the user machine except the terminal UI (capture, store, crypto, sync, daemon)."""
