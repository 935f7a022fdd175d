"""P1 first push, P1f push vs the engine floor, P2 small appends, P4 pull on a new machine.

Lore runs as the user runs it: ``lorectl push|pull --json`` subprocesses against a real
``lore-server`` (SQLite) behind the counting proxy. rclone does the same job through its
crypt remote onto ``rclone serve webdav`` behind an identical proxy. Both sides are timed
by wall clock around the whole command, interpreter start-up included.
"""

from __future__ import annotations

from typing import Any

from bench.anchors import Floor, measure_floor
from bench.context import Ctx
from bench.corpus import append_to_sessions
from bench.procs import Unavailable
from bench.report import Row, na

#: sealed-chunk overhead (format byte + 24-byte nonce + 16-byte tag), PROTOCOL.md
CHUNK_OVERHEAD = 41
APPEND_SESSIONS = 20
APPEND_BYTES = 1024


def _floor(ctx: Ctx) -> Floor:
    if "floor" not in ctx.facts:
        ctx.facts["floor"] = measure_floor(ctx.corpus.projects_dir)
    floor: Floor = ctx.facts["floor"]
    return floor


def _rclone_up(ctx: Ctx) -> Any:
    """rclone's first upload of the corpus (measured once, reused as P2's baseline)."""
    if "rclone_up" not in ctx.facts:
        ctx.facts["rclone_up"] = ctx.rclone.upload(ctx.corpus.projects_dir)
    return ctx.facts["rclone_up"]


#: issue 23's bars (PERFORMANCE.md's turn-2 goals; its first table said 1.5× for both)
P1F_BAR, P4F_BAR = 2.0, 3.0


def p1(ctx: Ctx) -> list[Row]:
    """First push of the corpus vs rclone crypt, and vs the engine floor."""
    bar_rc, bar_fl = "≤ 0.7× rclone", f"≤ {P1F_BAR:g}× floor"
    rows: list[Row] = []
    floor = _floor(ctx)
    total = ctx.corpus.total_bytes
    try:
        rc = _rclone_up(ctx)
        anchor: float | None = rc.seconds
        anchor_detail = rc.stats
        rc_reason = ""
    except Unavailable as e:
        anchor, anchor_detail, rc_reason = None, {}, str(e)
    try:
        ctx.imported()
        m = ctx.logged_in("a")
        ctx.server.stats(reset=True)
        res, doc = m.json("push", what="push")
        ctx.mark("pushed")
        seen = ctx.server.stats(reset=True)
        skipped = doc.get("skipped") or []
        detail = {"bytes_uploaded": doc.get("bytes_uploaded"), "pushed": doc.get("pushed"),
                  "skipped": skipped[:5], "skipped_count": len(skipped),
                  "server": seen, "plain_bytes": total, "rclone": anchor_detail,
                  "MB_per_s": total / res.seconds / 1e6}
        ctx.facts["push_seconds"] = res.seconds
        # a skipped session means Lore moved fewer bytes than rclone: say so in the table
        what = f"first push vs rclone ({len(skipped)} skipped)" if skipped else (
            "first push vs rclone")
        if rc_reason:
            rows.append(Row("P1", what, res.seconds, unit="s", bar=bar_rc,
                            reason=f"anchor: {rc_reason}", detail=detail))
        else:
            rows.append(Row("P1", what, res.seconds, anchor, "s",
                            "rclone crypt", bar_rc, res.seconds <= 0.7 * anchor, detail=detail))
        rows.append(Row("P1f", "first push vs floor", res.seconds, floor.seal_seconds, "s",
                        "zstd+AEAD", bar_fl, res.seconds <= P1F_BAR * floor.seal_seconds,
                        detail={"floor": floor.__dict__}))
        rows.append(_p1r(ctx, res.seconds))
    except Unavailable as e:
        rows.append(na("P1", "first push vs rclone", str(e), bar_rc, anchor=anchor,
                       anchor_name="rclone crypt", detail={"rclone": anchor_detail}))
        rows.append(na("P1f", "first push vs floor", str(e), bar_fl, anchor=floor.seal_seconds,
                       anchor_name="zstd+AEAD", detail={"floor": floor.__dict__}))
    return rows


def _p1r(ctx: Ctx, redacted_s: float) -> Row:
    """The same first push with ``[privacy] redact = "off"`` (another account, the same
    corpus): what scanning and redacting every payload costs (issue 17)."""
    what, bar = "first push, secrets redaction on vs off", "≤ 1.3× off"
    try:
        m = ctx.machine("r", home=ctx.corpus.home)
        (m.lore_home / "config.toml").write_text('[privacy]\nredact = "off"\n')
        ctx.server.add_user(email="bench-off@example.com")
        m.json("import", what="import (redact off)")
        m.login(ctx.server.url, email="bench-off@example.com")
        res, _ = m.json("push", what="push (redact off)")
    except Unavailable as e:
        return na("P1r", what, str(e), bar)
    return Row("P1r", what, redacted_s, res.seconds, "s", "redact = \"off\"", bar,
               redacted_s <= 1.3 * res.seconds)


def p2(ctx: Ctx) -> list[Row]:
    """Append 1 KB to 20 sessions, then push: bytes uploaded and wall time."""
    overhead = APPEND_SESSIONS * CHUNK_OVERHEAD
    what_b, what_t = "append 20×1 KB: bytes up", "append 20×1 KB: push wall"
    try:
        ctx.pushed()
    except Unavailable as e:
        return [na("P2", what_b, str(e), "≤ 1.2×(appended+overhead)"),
                na("P2", what_t, str(e), "≤ 0.5 s")]
    appended = append_to_sessions(ctx.corpus, APPEND_SESSIONS, APPEND_BYTES)
    limit = 1.2 * (appended + overhead)
    bar_b = f"≤ {limit / 1000:.1f} KB"
    rc_bytes: float | None = None
    rc_secs: float | None = None
    try:
        _rclone_up(ctx)
        t = ctx.rclone.upload(ctx.corpus.projects_dir)
        rc_bytes, rc_secs = float(t.stats.get("bytes_in", 0)), t.seconds
    except Unavailable:
        pass
    m = ctx.machine("a")
    try:
        imp, idoc = m.json("import", what="import")
        ctx.server.stats(reset=True)
        res, doc = m.json("push", what="push")
        seen = ctx.server.stats(reset=True)
    except Unavailable as e:
        return [na("P2", what_b, str(e), bar_b), na("P2", what_t, str(e), "≤ 0.5 s")]
    up = float(doc.get("bytes_uploaded") or 0)
    detail = {"appended": appended, "overhead": overhead, "bytes_uploaded": up,
              "server": seen, "import": idoc, "import_seconds": imp.seconds,
              "pushed": doc.get("pushed")}
    return [
        Row("P2", what_b, up, rc_bytes, "B", "rclone re-upload" if rc_bytes else "", bar_b,
            up <= limit, detail=detail),
        Row("P2", what_t, res.seconds, rc_secs, "s", "rclone" if rc_secs else "", "≤ 0.5 s",
            res.seconds <= 0.5),
    ]


def p4(ctx: Ctx) -> list[Row]:
    """Pull of the whole corpus onto a fresh machine vs rclone copy back, and the floor."""
    bar_rc, bar_fl = "≤ 0.7× rclone", f"≤ {P4F_BAR:g}× floor"
    floor = _floor(ctx)
    anchor: float | None = None
    rc_detail: dict[str, Any] = {}
    rc_reason = ""
    try:
        _rclone_up(ctx)
        t = ctx.rclone.download(ctx.work / "rclone-down")
        anchor, rc_detail = t.seconds, t.stats
    except Unavailable as e:
        rc_reason = str(e)
    try:
        ctx.pushed()
        b = ctx.logged_in("b")
        ctx.server.stats(reset=True)
        res, doc = b.json("pull", what="pull")
        ctx.mark("pulled:b")
        seen = ctx.server.stats(reset=True)
    except Unavailable as e:
        return [na("P4", "pull on a new machine vs rclone", str(e), bar_rc, anchor=anchor,
                   anchor_name="rclone crypt"),
                na("P4f", "pull vs floor", str(e), bar_fl, anchor=floor.open_seconds,
                   anchor_name="AEAD+unzstd")]
    detail = {"pulled": doc.get("pulled"), "bytes_downloaded": doc.get("bytes_downloaded"),
              "server": seen, "rclone": rc_detail}
    rows = []
    if anchor is None:
        rows.append(Row("P4", "pull on a new machine vs rclone", res.seconds, bar=bar_rc,
                        reason=f"anchor: {rc_reason}", detail=detail))
    else:
        rows.append(Row("P4", "pull on a new machine vs rclone", res.seconds, anchor, "s",
                        "rclone crypt", bar_rc, res.seconds <= 0.7 * anchor, detail=detail))
    rows.append(Row("P4f", "pull vs floor", res.seconds, floor.open_seconds, "s", "AEAD+unzstd",
                    bar_fl, res.seconds <= P4F_BAR * floor.open_seconds))
    return rows
