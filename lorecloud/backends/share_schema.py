"""The share links' table (issue 18), per SQL dialect; appended to both MIGRATIONS.

A share holds only ciphertext sealed under a key that lives in the link's fragment
(never sent to the server), plus its expiry, revocation time and view count.
"""

from __future__ import annotations

from typing import Final


def _migration(blob: str) -> list[str]:
    return [
        f"""CREATE TABLE shares (
            share_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
            session_id TEXT NOT NULL, sealed {blob} NOT NULL, size BIGINT NOT NULL,
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT,
            views BIGINT NOT NULL DEFAULT 0)""",
        "CREATE INDEX shares_account ON shares (account_id, created_at)",
    ]


SQLITE_MIGRATION: Final = _migration("BLOB")
POSTGRES_MIGRATION: Final = _migration("BYTEA")
