"""The schema the dashboard needs, per SQL dialect; owned by the backends (one migration each).

Pure strings, imported by the backends' migration lists and by :mod:`.queries`, so
the sort expressions in the queries are, character for character, the ones the
indexes were built on (SQLite uses an expression index only on an exact match).

The session metadata is stored as JSON text (``sessions.meta``); the dashboard sorts
and filters on a few of its fields through expression indexes. Every index is
partial on live sessions (tombstones never show in the list) and ends with
``session_id``, the keyset tie-breaker, so a page is one index range scan.
"""

from __future__ import annotations

from typing import Final

#: list sort key -> SQL expression over ``meta`` per dialect. NULL times sort as ''.
SQLITE_EXPR: Final = {
    "started": "COALESCE(json_extract(meta, '$.started_at'), '')",
    "ended": "COALESCE(json_extract(meta, '$.ended_at'), '')",
    "size": "COALESCE(json_extract(meta, '$.payload_bytes'), 0)",
    "messages": "COALESCE(json_extract(meta, '$.message_count'), 0)",
    "tool": "COALESCE(json_extract(meta, '$.tool'), '')",
    "project": "COALESCE(json_extract(meta, '$.project_path'), '')",
}
POSTGRES_EXPR: Final = {
    "started": "COALESCE((meta::jsonb ->> 'started_at'), '')",
    "ended": "COALESCE((meta::jsonb ->> 'ended_at'), '')",
    "size": "COALESCE((meta::jsonb ->> 'payload_bytes')::bigint, 0)",
    "messages": "COALESCE((meta::jsonb ->> 'message_count')::bigint, 0)",
    "tool": "COALESCE((meta::jsonb ->> 'tool'), '')",
    "project": "COALESCE((meta::jsonb ->> 'project_path'), '')",
}
LIVE: Final = {"sqlite": "deleted = 0", "postgres": "NOT deleted"}
#: the same condition on the ``s`` alias the dashboard's queries use
LIVE_S: Final = {"sqlite": "s.deleted = 0", "postgres": "NOT s.deleted"}
SORT_KEYS: Final = ("started", "ended", "size", "messages")


def _migration(dialect: str, exprs: dict[str, str]) -> list[str]:
    live = LIVE[dialect]
    statements = [
        # a dashboard sign-in: only the SHA-256 of the cookie token is stored
        """CREATE TABLE web_sessions (
            token_hash TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts ON DELETE CASCADE,
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
        "CREATE INDEX web_sessions_account ON web_sessions (account_id, expires_at)",
    ]
    for key in SORT_KEYS:
        statements.append(
            f"CREATE INDEX sessions_dash_{key} ON sessions "
            f"(account_id, ({exprs[key]}), session_id) WHERE {live}"
        )
    # covering index for the tool filter's choices and the storage-by-tool figures
    statements.append(
        f"CREATE INDEX sessions_dash_tool ON sessions "
        f"(account_id, ({exprs['tool']}), stored_bytes) WHERE {live}"
    )
    return statements


#: the dashboard's migration, appended to ``lorecloud.backends.sqlite.MIGRATIONS``
SQLITE_MIGRATION: Final = _migration("sqlite", SQLITE_EXPR)
#: the dashboard's migration, appended to ``lorecloud.backends.postgres.MIGRATIONS``
POSTGRES_MIGRATION: Final = _migration("postgres", POSTGRES_EXPR)
