"""lorecloud: the Lore Cloud sync server (never sees plaintext or keys)."""
