"""P8 capture: ``lorectl import`` of the corpus vs ``json.loads`` of every line.

The parse floor reads each file and decodes every line in one process — the least any
importer of JSONL must do. Lore additionally merges streamed blocks, builds messages,
writes the raw stream and the parsed messages to ``sessions.db`` and indexes them for
full-text search, so the bar (≤ 2×) leaves room for exactly that. The re-import of an
unchanged corpus must notice nothing changed without re-reading the files (≤ 1 s).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.context import Ctx
from bench.procs import Unavailable
from bench.report import Row, na


def parse_floor(root: Path) -> tuple[float, int]:
    """Seconds to read and ``json.loads`` every line of every ``*.jsonl`` under ``root``."""
    files = sorted(root.rglob("*.jsonl"))
    t0 = time.perf_counter()
    lines = 0
    loads = json.loads
    for path in files:
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    loads(line)
                    lines += 1
    return time.perf_counter() - t0, lines


def p8(ctx: Ctx) -> list[Row]:
    """First import (timed) and re-import of the unchanged corpus."""
    # issue 23's bars (PERFORMANCE.md's first table: 2× and 1 s)
    bar1, bar2 = "≤ 2.5× floor", "≤ 0.3 s"
    floor, lines = parse_floor(ctx.corpus.projects_dir)
    ctx.facts["parse_floor"] = floor
    m = ctx.machine("a")
    try:
        m.require("import")
        first, doc = m.json("import", what="import")
        ctx.mark("imported")
        again, doc2 = m.json("import", what="import")
    except Unavailable as e:
        return [na("P8", "import vs json.loads", str(e), bar1, anchor=floor,
                   anchor_name="json.loads"),
                na("P8", "re-import unchanged", str(e), bar2)]
    total = ctx.corpus.total_bytes
    detail = {"result": doc, "lines": lines, "bytes": total,
              "MB_per_s": total / first.seconds / 1e6,
              "floor_MB_per_s": total / floor / 1e6}
    errors = len(doc.get("errors") or [])
    rows = [
        Row("P8", "import vs json.loads", first.seconds, floor, "s", "json.loads", bar1,
            first.seconds <= 2.5 * floor and errors == 0, detail=detail),
        Row("P8", "re-import unchanged", again.seconds, None, "s", "", bar2,
            again.seconds <= 0.3 and (doc2.get("unchanged") == ctx.corpus.sessions),
            detail={"result": doc2}),
    ]
    if doc.get("imported") != ctx.corpus.sessions:
        rows[0].detail["warning"] = (
            f"imported {doc.get('imported')} of {ctx.corpus.sessions} sessions")
    return rows + p8_mixed(ctx)


def p8_mixed(ctx: Ctx) -> list[Row]:
    """Import of a corpus mixing every tool (a tenth of the sessions in other tools)."""
    from bench import mixed

    bar = "≤ 2.5× floor"
    claude = max(ctx.sizes.sessions // 10, 4)
    home, sessions = mixed.build(ctx.work / "mixed", claude, max(ctx.sizes.sessions // 20, 2),
                                 ctx.seed)
    floor = mixed.parse_floor(home)
    m = ctx.machine("mixed", home=home)
    try:
        m.require("import")
        first, doc = m.json("import", what="import of the mixed corpus")
    except Unavailable as e:
        return [na("P8", "import, mixed corpus of 14 tools", str(e), bar, anchor=floor,
                   anchor_name="json.loads")]
    ok = first.seconds <= 2.5 * floor and not doc.get("errors")
    sessions = int(doc.get("imported") or sessions)
    return [Row("P8", f"import, mixed corpus of 14 tools ({sessions} sessions)", first.seconds,
                floor, "s", "json.loads", bar, ok,
                detail={"result": doc, "sessions": sessions})]
