"""sessions.db: the local store (schema, migrations, queries)."""

from lored.store.db import Store, digest, fts_query, utcnow
from lored.store.rows import (
    PulledRaw,
    PulledSession,
    PushCandidate,
    RemoteState,
    SessionRow,
    SourceState,
)

__all__ = [
    "PulledRaw",
    "PulledSession",
    "PushCandidate",
    "RemoteState",
    "SessionRow",
    "SourceState",
    "Store",
    "digest",
    "fts_query",
    "utcnow",
]
