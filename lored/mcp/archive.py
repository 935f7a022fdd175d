"""Read-only queries over ``sessions.db`` for the MCP server (own and pulled sessions).

The database is opened ``mode=ro``: the server never writes, and works while ``lored``
writes (WAL). Every answer is bounded — the assistant's context is precious — and says
how many more results exist. Every text that leaves goes through :func:`outgoing`, the
one seam where secrets redaction plugs in.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lored.capture._common import norm_ts
from lored.capture.projects import git_remote, normalise_remote
from lored.secrets.redact import Redactor
from lored.store.db import decompress, fts_query

MAX_TEXT = 4000  # characters of one message in get_session
MAX_LIMIT = {"search": 50, "list": 100, "messages": 200}
_AGO = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


class ArchiveError(ValueError):
    """A bad argument or an unknown id: the message is what the assistant is told."""


#: set by :func:`redact_with` (the server redacts every answer whatever the local mode);
#: built on first use, so listing the tools does not wait for the detector's patterns
_REDACTOR: Redactor | None = None
_FACTORY: Callable[[], Redactor | None] | None = None


def redact_with(factory: Callable[[], Redactor | None] | None) -> None:
    """Every later :func:`outgoing` text has its secrets redacted by ``factory()``."""
    global _REDACTOR, _FACTORY
    _REDACTOR, _FACTORY = None, factory


def _redactor() -> Redactor | None:
    global _REDACTOR, _FACTORY
    if _FACTORY is not None:
        _REDACTOR, _FACTORY = _FACTORY(), None
    return _REDACTOR


def outgoing(text: str | None) -> str:
    """Every text the MCP server answers with passes here (the redaction seam).

    Redact whole texts *before* shortening them: a secret cut in half is no longer
    recognisable and would leak its first part."""
    if not text:
        return ""
    redactor = _redactor()
    return redactor.redact_text(text) if redactor is not None else text


def _snippet(text: str, words: list[str], width: int = 200) -> str:
    """About ``width`` characters of an already redacted ``text`` around the first
    query word, which is marked ``[word]`` like the index's own snippets."""
    flat = " ".join(text.split())
    low = flat.lower()
    hits = [(i, w) for w in words if (i := low.find(w)) >= 0]
    if not hits:
        return _short(flat, width)
    i, w = min(hits)
    start = max(0, i - width // 3)
    end = min(len(flat), start + width)
    piece = f"{flat[start:i]}[{flat[i:i + len(w)]}]{flat[i + len(w):end]}"
    return ("…" if start else "") + piece + ("…" if end < len(flat) else "")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def since_time(since: str | None, now: datetime | None = None) -> str | None:
    """An ISO lower bound from ``2026-05-01``, an ISO time, or ``30m``/``12h``/``7d``/``2w``."""
    if since is None or not since.strip():
        return None
    m = _AGO.match(since)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        t = (now or datetime.now(UTC)) - timedelta(**{unit: int(m.group(1))})
        return norm_ts(t.isoformat())
    iso = norm_ts(since)
    if iso is None:
        raise ArchiveError(f"since={since!r} is not a date or a duration; use e.g. "
                           "'2026-05-01' or '7d'")
    return iso


def _limit(value: int | None, default: int, kind: str) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or value < 1:
        raise ArchiveError("limit must be a positive integer")
    return min(value, MAX_LIMIT[kind])


class Archive:
    """One read-only connection to a Lore store."""

    def __init__(self, db_file: Path) -> None:
        if not db_file.is_file():
            raise ArchiveError(f"no Lore archive at {db_file}; run `lorectl import` first")
        self.db = sqlite3.connect(f"{db_file.absolute().as_uri()}?mode=ro", uri=True,
                                  timeout=5, check_same_thread=False)
        self._parsed: dict[str, list[Any]] = {}  # messages parsed here (never written)

    def _pending(self, where: str = "1", params: list[Any] | tuple[Any, ...] = ()
                 ) -> list[Any]:
        """Sessions whose messages are not built yet (a pull's or a bulk import's
        deferred parse): rows of ``_COLS``."""
        try:
            return self.db.execute(f"SELECT {self._COLS} FROM sessions s WHERE s.parsed = 0 "
                                   f"AND {where}", list(params)).fetchall()
        except sqlite3.OperationalError:  # a store from before deferred parsing
            return []

    def _messages_of(self, sid: str) -> list[Any]:
        """A pending session's messages, parsed here from its payload (read-only)."""
        if sid not in self._parsed:
            from lored.capture.registry import parse_payload, tool_of

            row = self.db.execute("SELECT data FROM payloads WHERE session_id = ?",
                                  (sid,)).fetchone()
            try:
                msgs = parse_payload(tool_of(sid), decompress(bytes(row[0]))).messages
            except Exception:  # noqa: BLE001 - unreadable here: no messages to show
                msgs = []
            if len(self._parsed) > 32:
                self._parsed.clear()
            self._parsed[sid] = msgs
        return self._parsed[sid]

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # --- filters shared by search and list ---------------------------------------------
    def _where(self, tool: str | None, project: str | None, machine: str | None,
               since: str | None) -> tuple[str, list[Any]]:
        clauses, params = ["1"], []
        if tool:
            clauses.append("s.tool = ?")
            params.append(tool)
        if project:
            clauses.append("(s.project_path LIKE ? OR s.git_remote LIKE ?)")
            params += [f"%{project}%"] * 2
        if machine:
            clauses.append("(s.origin_machine_id LIKE ? OR s.origin_machine_name = ?)")
            params += [f"{machine}%", machine]
        bound = since_time(since)
        if bound:
            clauses.append("COALESCE(s.ended_at, s.started_at) >= ?")
            params.append(bound)
        return " AND ".join(clauses), params

    def _session(self, r: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
        return {"session_id": r[0], "tool": r[1], "title": outgoing(r[2]) or None,
                "project": r[3], "git_remote": r[4],
                "machine": r[6] or r[5][:8], "started_at": r[7], "ended_at": r[8],
                "message_count": r[9], "local": bool(r[10])}

    _COLS = ("s.id, s.tool, s.title, s.project_path, s.git_remote, s.origin_machine_id, "
             "s.origin_machine_name, s.started_at, s.ended_at, s.message_count, s.local")

    def list_sessions(self, *, project: str | None = None, tool: str | None = None,
                      machine: str | None = None, since: str | None = None,
                      limit: int | None = None) -> dict[str, Any]:
        """Sessions, most recent first."""
        n = _limit(limit, 20, "list")
        where, params = self._where(tool, project, machine, since)
        total = self.db.execute(f"SELECT COUNT(*) FROM sessions s WHERE {where}",
                                params).fetchone()[0]
        rows = self.db.execute(
            f"SELECT {self._COLS} FROM sessions s WHERE {where} "
            "ORDER BY COALESCE(s.ended_at, s.started_at) DESC LIMIT ?", [*params, n]).fetchall()
        return {"sessions": [self._session(r) for r in rows], "total": total,
                "more": max(total - len(rows), 0)}

    def search(self, query: str, *, tool: str | None = None, project: str | None = None,
               machine: str | None = None, since: str | None = None,
               limit: int | None = None) -> dict[str, Any]:
        """Ranked message snippets; messages not yet in the full-text index are scanned."""
        if not isinstance(query, str) or not query.strip():
            raise ArchiveError("query must be a non-empty string")
        n = _limit(limit, 10, "search")
        q = fts_query(query)
        if not q:
            raise ArchiveError("query has no searchable words")
        where, params = self._where(tool, project, machine, since)
        mark_row = self.db.execute(
            "SELECT CAST(value AS INTEGER) FROM kv WHERE key = 'fts_indexed_id'").fetchone()
        mark = int(mark_row[0]) if mark_row else 0
        cap = 1000  # counting beyond this costs more than it tells
        hits = self.db.execute(
            f"SELECT {self._COLS}, m.role, m.timestamp, "
            "snippet(messages_fts, 0, '[', ']', '…', 16), m.text "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            f"JOIN sessions s ON s.id = m.session_id WHERE messages_fts MATCH ? AND {where} "
            "ORDER BY rank LIMIT ?", [q, *params, cap]).fetchall()
        words = [w for w in re.findall(r"\w+", query.lower()) if w]
        fresh = self.db.execute(  # the few messages lored has not indexed yet
            f"SELECT {self._COLS}, m.role, m.timestamp, m.text FROM messages m "
            f"JOIN sessions s ON s.id = m.session_id WHERE m.id > ? AND {where} "
            + "".join(" AND lower(m.text) LIKE ?" for _ in words) + " LIMIT ?",
            [mark, *params, *[f"%{w}%" for w in words], cap]).fetchall()
        pending: list[Any] = []
        for r in self._pending(where, params):  # not parsed yet: scanned from the payload
            for m in self._messages_of(r[0]):
                low = (m.text or "").lower()
                if all(w in low for w in words) and len(pending) < cap:
                    pending.append((*r, m.role, m.timestamp, m.text))
        fresh = [*fresh, *pending]
        results = []
        for rows, indexed in ((hits, True), (fresh, False)):
            for r in rows:
                item = self._session(r)
                text = r[14] if indexed else r[13]
                if _redactor() is not None:  # the index's snippet could cut a secret in half
                    snippet = _snippet(outgoing(str(text)), words)
                elif indexed:
                    snippet = r[13]
                else:
                    snippet = _short(" ".join(str(text).split()), 200)
                item.update(role=r[11], time=r[12], snippet=snippet)
                results.append(item)
        total = len(results)
        shown = results[:n]
        return {"results": shown, "total": total if total < cap else f"{cap}+",
                "more": max(total - len(shown), 0)}

    def _resolve(self, session_id: str) -> str:
        if not isinstance(session_id, str) or not session_id.strip():
            raise ArchiveError("session_id must be a non-empty string")
        sid = session_id.strip()
        exact = self.db.execute("SELECT id FROM sessions WHERE id = ?", (sid,)).fetchone()
        if exact:
            return str(exact[0])
        like = sid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = self.db.execute("SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                                (like,)).fetchall()
        if len(found) == 1:
            return str(found[0][0])
        if found:
            raise ArchiveError(f"session id {sid!r} is ambiguous; give more of it")
        raise ArchiveError(f"no session {sid!r}; list_sessions or search_sessions give ids")

    def get_session(self, session_id: str, *, offset: int | None = None,
                    limit: int | None = None) -> dict[str, Any]:
        """One session's metadata and a page of its messages (tool calls summarised)."""
        sid = self._resolve(session_id)
        start = 0 if offset is None else offset
        if not isinstance(start, int) or start < 0:
            raise ArchiveError("offset must be a non-negative integer")
        n = _limit(limit, 50, "messages")
        row = self.db.execute(f"SELECT {self._COLS} FROM sessions s WHERE s.id = ?",
                              (sid,)).fetchone()
        rows: list[Any]
        if self._pending("s.id = ?", (sid,)):
            rows = [(i, m.role, m.timestamp, m.text, m.extra)
                    for i, m in enumerate(self._messages_of(sid)[start:start + n], start)]
        else:
            rows = self.db.execute(
                "SELECT idx, role, timestamp, text, extra FROM messages WHERE session_id = ? "
                "ORDER BY idx LIMIT ? OFFSET ?", (sid, n, start)).fetchall()
        messages = []
        for pos, (_, role, ts, text, extra) in enumerate(rows, start):
            item: dict[str, Any] = {"index": pos, "role": role, "time": ts,
                                    "text": _short(outgoing(text), MAX_TEXT)}
            data = (extra if isinstance(extra, dict) else json.loads(extra)) if extra else {}
            calls = data.get("tool_calls") if isinstance(data, dict) else None
            if isinstance(calls, list) and calls:
                item["tool_calls"] = [outgoing(str(c.get("name") or "tool"))
                                      for c in calls if isinstance(c, dict)]
            messages.append(item)
        info = self._session(row)
        total = info["message_count"]
        return {"session": info, "messages": messages, "offset": start,
                "more": max(total - start - len(messages), 0)}

    def project_history(self, path: str, *, limit: int | None = None) -> dict[str, Any]:
        """Recent sessions of the project at ``path``, on every machine (by git remote)."""
        if not isinstance(path, str) or not path.strip():
            raise ArchiveError("path must be a project folder")
        folder = str(Path(path).expanduser().resolve())
        remote = normalise_remote(git_remote(folder))
        n = _limit(limit, 20, "list")
        cond, params = "s.project_path = ?", [folder]
        if remote:
            cond, params = f"({cond} OR s.git_remote = ?)", [folder, remote]
        total = self.db.execute(f"SELECT COUNT(*) FROM sessions s WHERE {cond}",
                                params).fetchone()[0]
        rows = self.db.execute(
            f"SELECT {self._COLS} FROM sessions s WHERE {cond} "
            "ORDER BY COALESCE(s.ended_at, s.started_at) DESC LIMIT ?", [*params, n]).fetchall()
        return {"project": folder, "git_remote": remote,
                "sessions": [self._session(r) for r in rows], "total": total,
                "more": max(total - len(rows), 0)}
