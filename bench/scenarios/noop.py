"""P3 no-op sync: nothing changed anywhere — how many requests, how long a cycle.

Requests are counted by the proxy in front of ``lore-server`` (what reached the server).
The cycle is timed as the daemon runs it: ``POST /v1/sync`` on ``lored``'s socket, warm
process, wall clock in the harness. The one-shot ``lorectl sync`` (daemon down) is
recorded too, but it mostly measures interpreter start-up. With ``--scale`` the same is
measured at 20,000 sessions (small ones: the point is the count, not the bytes) to show
the cycle does not grow with history.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.context import Ctx
from bench.corpus import generate
from bench.ipc import request
from bench.lore import Machine
from bench.procs import Unavailable
from bench.report import Row, na

SCALE_EMAIL = "scale@example.com"


def _measure(ctx: Ctx, m: Machine, repeats: int) -> dict[str, Any]:
    """One-shot ``lorectl sync`` then ``repeats`` daemon cycles; requests per cycle."""
    srv = ctx.server
    out: dict[str, Any] = {}
    m.json("sync", what="sync")  # settle: the first sync may still pull or push leftovers
    srv.stats(reset=True)
    r, doc = m.json("sync", what="sync")
    out["oneshot_seconds"] = r.seconds
    out["oneshot_requests"] = srv.stats(reset=True).get("requests")
    out["oneshot_result"] = doc
    try:
        m.start_daemon()
    except Unavailable as e:
        out["daemon_reason"] = str(e)
        return out
    try:
        sock = m.socket_path()
        request(sock, "POST", "/v1/sync", {"mode": "sync"}, timeout=600)  # warm-up
        times, reqs = [], []
        for _ in range(repeats):
            srv.stats(reset=True)
            t0 = time.perf_counter()
            status, events = request(sock, "POST", "/v1/sync", {"mode": "sync"}, timeout=600)
            times.append(time.perf_counter() - t0)
            reqs.append(srv.stats(reset=True).get("requests", 0))
            if status != 200:
                out["daemon_reason"] = f"POST /v1/sync answered {status}: {events}"
                return out
        out["cycle_seconds"] = statistics.median(times)
        out["cycle_all"] = times
        out["cycle_requests"] = max(reqs)
        out["last_event"] = events[-1] if isinstance(events, list) and events else events
    finally:
        m.stop_daemon()
    return out


def scale_machine(ctx: Ctx) -> Machine:
    """Machine ``s``: 20,000 small sessions (``--scale``) imported, logged in, pushed.

    Built once per run; P3 and P6 measure it.
    """
    if "scale" not in ctx.facts:
        info = generate(ctx.work / "corpus-scale", ctx.sizes.scale_sessions, ctx.seed + 1,
                        scale=0.05)
        s = ctx.machine("s", home=info.home)
        ctx.server.add_user(SCALE_EMAIL)
        imp, _ = s.json("import", what="import")
        s.login(ctx.server.url, SCALE_EMAIL)
        push, _ = s.json("push", what="push")
        ctx.facts["scale"] = {"import_seconds": imp.seconds, "push_seconds": push.seconds,
                              "corpus_bytes": info.total_bytes}
    return ctx.machine("s")


def _rows(label: str, data: dict[str, Any]) -> list[Row]:
    reqs = data.get("cycle_requests", data.get("oneshot_requests"))
    rows = [Row("P3", f"no-op sync {label}: requests", float(reqs) if reqs is not None else None,
                unit="req", bar="≤ 3", ok=None if reqs is None else reqs <= 3, detail=data)]
    if "cycle_seconds" in data:
        c = data["cycle_seconds"]
        rows.append(Row("P3", f"no-op cycle {label} (daemon)", c, data["oneshot_seconds"], "s",
                        "one-shot lorectl sync", "≤ 100 ms", c <= 0.1))
    else:
        rows.append(Row("P3", f"no-op cycle {label} (daemon)", bar="≤ 100 ms",
                        anchor=data.get("oneshot_seconds"), anchor_name="one-shot lorectl sync",
                        reason=data.get("daemon_reason", "daemon cycle not measured")))
    return rows


def p3(ctx: Ctx) -> list[Row]:
    """No-op sync at the corpus size (and at 20,000 sessions with ``--scale``)."""
    n = ctx.sizes.sessions
    label = f"{n:,}"
    try:
        ctx.pushed()
        small = _measure(ctx, ctx.machine("a"), ctx.sizes.repeats)
    except Unavailable as e:
        return [na("P3", f"no-op sync {label}: requests", str(e), "≤ 3"),
                na("P3", f"no-op cycle {label} (daemon)", str(e), "≤ 100 ms")]
    rows = _rows(label, small)
    if not ctx.scale:
        return rows
    big_n = ctx.sizes.scale_sessions
    big_label = f"{big_n:,}"
    try:
        s = scale_machine(ctx)
        big = _measure(ctx, s, ctx.sizes.repeats)
        big.update(ctx.facts["scale"])
    except Unavailable as e:
        rows.append(na("P3", f"no-op cycle {big_label}/{label}", str(e), "≤ 1.5×"))
        return rows
    rows += _rows(big_label, big)
    a, b = small.get("cycle_seconds"), big.get("cycle_seconds")
    if a is None or b is None:
        a, b = small.get("oneshot_seconds"), big.get("oneshot_seconds")
        what = f"no-op one-shot sync {big_label} vs {label}"
    else:
        what = f"no-op cycle {big_label} vs {label}"
    rows.append(Row("P3", what, b, a, "s", f"{label} sessions", "≤ 1.5×",
                    (b / a) <= 1.5 if a and b else None))
    return rows
