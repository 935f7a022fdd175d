"""Client-side crypto: Argon2id KDF, key envelope, chunk sealing."""
