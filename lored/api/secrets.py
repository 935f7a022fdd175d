"""`lorectl secrets scan` and `lorectl secrets redact`: what the archive holds, and
applying the current ``[privacy]`` rules to sessions already captured and pushed.

Answers name the kind, count and first line of each secret per session — never the
secret, not even partly.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lored.api.core import LoreCore
from lored.capture.redaction import local_redactor, policy_of, redact_parsed
from lored.capture.registry import parse_payload
from lored.errors import LoreError
from lored.secrets.redact import scan


async def _targets(lore: LoreCore, session: str | None, *, own: bool = False) -> list[Any]:
    if session is not None:
        return [await lore.store.find_session(session)]
    rows = await lore.store.list_sessions()
    return [r for r in rows if r.local] if own else rows


async def scan_secrets(lore: LoreCore, session: str | None = None) -> dict[str, Any]:
    """``{"findings":[{session_id, kind, count, first_line}], "sessions_scanned"}``."""
    detector = policy_of(lore.settings).detector()
    findings: list[dict[str, Any]] = []
    rows = await _targets(lore, session)
    for row in rows:
        try:
            payload = await lore.store.load_payload(row.id)
        except LoreError:
            continue  # a session without a payload holds nothing to scan
        for k in await asyncio.to_thread(scan, detector, payload):
            findings.append({"session_id": row.id, "kind": k.kind, "count": k.count,
                             "first_line": k.first_line})
    return {"findings": findings, "sessions_scanned": len(rows)}


async def redact_secrets(lore: LoreCore, session: str | None = None) -> dict[str, Any]:
    """Apply the current rules to sessions already captured.

    Upstream (mode "sync" or "everywhere"): own sessions whose outgoing bytes change are
    marked for the next push, which uploads each as a new generation. Locally (mode
    "everywhere"): own sessions are rewritten redacted, re-parsed and re-indexed, and the
    store is compacted so the old text does not linger in free pages or the index.
    """
    policy = policy_of(lore.settings)
    detector = policy.detector()
    rows = await _targets(lore, session, own=True)
    affected: list[str] = []
    for row in rows:
        try:
            payload = await lore.store.load_payload(row.id)
        except LoreError:
            continue
        if not await asyncio.to_thread(detector.findings, payload):
            continue
        affected.append(row.id)
    rewritten = 0
    redactor = local_redactor(lore.settings)
    if redactor is not None:
        for sid in affected:
            payload = await lore.store.load_payload(sid)
            red = await asyncio.to_thread(redactor.redact, payload)
            if red is payload:
                continue
            row = await lore.store.find_session(sid)
            parsed = await asyncio.to_thread(parse_payload, row.tool, red, None)
            parsed.session_id, parsed.git_remote = sid, row.git_remote
            redact_parsed(redactor, parsed)
            await lore.store.save_capture(parsed, red, None, row.origin_machine_id)
            rewritten += 1
        if rewritten:
            await lore.store.compact()
    marked = await lore.store.mark_own_dirty(affected) if policy.upstream and affected else 0
    return {"mode": policy.mode, "sessions_scanned": len(rows),
            "sessions_with_secrets": len(affected), "rewritten_locally": rewritten,
            "marked_for_push": marked}
