"""Storage backends of Lore Cloud (SQLite, PostgreSQL)."""
