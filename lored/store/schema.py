"""sessions.db schema and its migrations (applied in order; version kept in the file).

The payload lives in its own table: SQLite must walk a row's overflow pages to reach
columns stored after a large BLOB, so keeping blobs out of ``sessions`` keeps listing,
status and the no-op sync cycle independent of transcript sizes.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[list[str]] = [
    # 1: initial schema
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        tool TEXT NOT NULL,
        native_id TEXT NOT NULL,
        project_path TEXT,
        title TEXT,
        model TEXT,
        git_branch TEXT,
        git_remote TEXT,
        tool_version TEXT,
        started_at TEXT,
        ended_at TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        bad_records INTEGER NOT NULL DEFAULT 0,
        origin_machine_id TEXT NOT NULL,
        origin_machine_name TEXT,
        local INTEGER NOT NULL,
        payload_length INTEGER NOT NULL,
        payload_hash TEXT NOT NULL,
        captured_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        -- push state of sessions captured here
        dirty INTEGER NOT NULL DEFAULT 0,
        pushed_generation INTEGER NOT NULL DEFAULT 0,
        pushed_chunks INTEGER NOT NULL DEFAULT 0,
        pushed_length INTEGER NOT NULL DEFAULT 0,
        pushed_hash TEXT,
        pushed_seq INTEGER,
        pushed_at TEXT,
        -- pull state of other machines' sessions
        remote_generation INTEGER NOT NULL DEFAULT 0,
        remote_chunks INTEGER NOT NULL DEFAULT 0,
        remote_seq INTEGER,
        pulled_at TEXT
    );
    CREATE INDEX sessions_dirty ON sessions(id) WHERE local = 1 AND dirty = 1;
    CREATE INDEX sessions_started ON sessions(started_at);
    CREATE TABLE payloads (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        data BLOB NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        role TEXT NOT NULL,
        timestamp TEXT,
        text TEXT NOT NULL,
        extra TEXT
    );
    CREATE INDEX messages_session ON messages(session_id, idx);
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content='messages', content_rowid='id', tokenize='unicode61'
    );
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TABLE sources (
        path TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        offset INTEGER NOT NULL
    );
    CREATE INDEX sources_session ON sources(session_id);
    CREATE TABLE deleted (
        session_id TEXT PRIMARY KEY,
        deleted_at TEXT NOT NULL
    );
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: full-text indexing is deferred. Capture and pull only insert messages; the FTS
    # index catches up (Store.index_pending) before a search and when the daemon is
    # idle, so tokenising transcripts never sits on the import/pull path. Message ids
    # become AUTOINCREMENT so "id > watermark" is exactly the unindexed rows.
    """
    DROP TRIGGER messages_ai;
    DROP TRIGGER messages_ad;
    CREATE TABLE messages_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        role TEXT NOT NULL,
        timestamp TEXT,
        text TEXT NOT NULL,
        extra TEXT
    );
    INSERT INTO messages_v2(id, session_id, idx, role, timestamp, text, extra)
        SELECT id, session_id, idx, role, timestamp, text, extra FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_session ON messages(session_id, idx);
    INSERT INTO kv(key, value) SELECT 'fts_indexed_id', CAST(COALESCE(MAX(id), 0) AS TEXT)
        FROM messages WHERE 1 ON CONFLICT(key) DO UPDATE SET value = excluded.value;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages
    WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'fts_indexed_id')
    BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
    # 3: parsing of pulled sessions is deferred. A pull stores the authenticated payload
    # and the sealed info (parsed = 0: listable and restorable); the deferred step parses
    # it into messages and metadata (1), or records that this version cannot read it (2).
    """
    ALTER TABLE sessions ADD COLUMN parsed INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX sessions_unparsed ON sessions(id) WHERE parsed = 0;
    """,
    # 4: a capture that already scanned the payload for secrets and found none leaves
    # "<detector fingerprint>:<payload digest>" here, so the first push of a bulk import
    # neither decompresses nor scans it again (a changed payload no longer matches)
    """
    ALTER TABLE sessions ADD COLUMN scan_clean TEXT;
    """,
]

SCHEMA_VERSION: Final = len(MIGRATIONS)
