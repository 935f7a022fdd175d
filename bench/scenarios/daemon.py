"""P5 ``lorectl status`` with the daemon up, P6 ``lored`` idle footprint.

P5 compares the median wall time of ``lorectl status`` (a fresh interpreter each time,
as in a terminal) with ``python -c pass`` from the same venv: the difference is Lore's
own import and IPC cost. P6 lets ``lored`` settle with the corpus captured and logged in,
then watches it for 60 s (3 s in smoke) with psutil: peak RSS and CPU percent of one core.
"""

from __future__ import annotations

import statistics
import sys
import time

from bench.context import Ctx
from bench.lore import Machine
from bench.procs import Unavailable, run
from bench.report import Row, na


def _median_wall(cmd: list[str], env: dict[str, str], n: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(n):
        r = run(cmd, env=env, timeout=120)
        if r.rc != 0:
            raise Unavailable(f"{' '.join(cmd[-2:])}: {r.brief()}")
        times.append(r.seconds)
    return statistics.median(times), times


def p5(ctx: Ctx) -> list[Row]:
    """``lorectl status`` wall time, daemon up, vs the bare interpreter."""
    bar = "≤ 150 ms, ≤ 5× python"
    n = max(ctx.sizes.repeats, 5)
    m = ctx.machine("a")
    bare, bare_all = _median_wall([sys.executable, "-c", "pass"], m.env, n)
    try:
        m.require("status")
        try:
            ctx.imported()
            ctx.logged_in("a")
        except Unavailable as e:
            ctx.facts["p5_note"] = f"status measured without login: {e}"
        m.start_daemon()
        from bench.procs import tool

        m.json("status", what="status")  # warm the page cache and the daemon
        med, all_ = _median_wall([tool("lorectl"), "status"], m.env, n)
    except Unavailable as e:
        return [na("P5", "lorectl status (daemon up)", str(e), bar, anchor=bare,
                   anchor_name="python -c pass")]
    finally:
        m.stop_daemon()
    detail = {"lorectl_all": all_, "python_all": bare_all, "note": ctx.facts.get("p5_note")}
    return [Row("P5", "lorectl status (daemon up)", med, bare, "s", "python -c pass", bar,
                med <= 0.150 and med <= 5 * bare, detail=detail)]


def p6(ctx: Ctx) -> list[Row]:
    """``lored`` idle for 60 s with the corpus captured: RSS and CPU (and, with
    ``--scale``, the same with P3's 20,000 sessions)."""
    secs = ctx.sizes.idle_seconds
    label = f"lored idle {secs:.0f} s"
    try:
        ctx.imported()
        try:
            ctx.logged_in("a")
        except Unavailable as e:
            ctx.facts["p6_note"] = f"daemon not logged in: {e}"
        rows = _idle(ctx, ctx.machine("a"), label)
    except Unavailable as e:
        rows = [na("P6", f"{label}: RSS", str(e), "≤ 60 MB"),
                na("P6", f"{label}: CPU", str(e), "≤ 1 %")]
    rows += _after_pull(ctx, label)
    if not ctx.scale:
        return rows
    from bench.scenarios.noop import scale_machine

    big = f"{label}, {ctx.sizes.scale_sessions:,} sessions"
    try:
        rows += _idle(ctx, scale_machine(ctx), big)
    except Unavailable as e:
        rows += [na("P6", f"{big}: RSS", str(e), "≤ 60 MB"),
                 na("P6", f"{big}: CPU", str(e), "≤ 1 %")]
    return rows


def _after_pull(ctx: Ctx, label: str) -> list[Row]:
    """The second machine after its first pull: lored starts with every session still to
    parse and index (the pull defers that work), then idles."""
    what = f"{label}, after a pull of {ctx.sizes.sessions:,}"
    try:
        ctx.pushed()
        b = ctx.logged_in("b")
        ctx.step("pulled:b", lambda: b.json("pull", what="pull"))  # done by P4 if it ran
        return _idle(ctx, b, what)
    except Unavailable as e:
        return [na("P6", f"{what}: RSS", str(e), "≤ 60 MB"),
                na("P6", f"{what}: CPU", str(e), "≤ 1 %")]


def _idle(ctx: Ctx, m: Machine, label: str) -> list[Row]:
    """Start ``m``'s lored, let it settle, watch it idle: peak RSS and CPU rows."""
    import psutil

    secs = ctx.sizes.idle_seconds
    try:
        proc = m.start_daemon()
        # let start-up work (capture scan, first sync) finish before the idle window,
        # and the deferred parse of a bulk import or a pull: the daemon is not idle yet
        started = time.perf_counter()
        time.sleep(min(10.0, secs / 3))
        settled = _wait_indexed(m, deadline=started + 600)
        p = psutil.Process(proc.pid)
        cpu0, t0 = p.cpu_times(), time.perf_counter()
        rss_max = 0
        deadline = t0 + secs
        while time.perf_counter() < deadline:
            rss_max = max(rss_max, p.memory_info().rss)
            time.sleep(0.5)
        cpu1, t1 = p.cpu_times(), time.perf_counter()
        rss_end = p.memory_info().rss
        hwm = _vm_hwm(proc.pid)
    finally:
        m.stop_daemon()
    # children too: lored hands a large parse backlog to a short-lived child process
    cpu = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
           + (cpu1.children_user - cpu0.children_user)
           + (cpu1.children_system - cpu0.children_system)) / (t1 - t0) * 100
    detail = {"rss_end": rss_end, "rss_max": rss_max, "vm_hwm": hwm,
              "settled_seconds": round(settled - started, 1), "note": ctx.facts.get("p6_note")}
    return [
        Row("P6", f"{label}: RSS", float(rss_max), None, "B", "", "≤ 60 MB",
            rss_max <= 60e6, detail=detail),
        Row("P6", f"{label}: CPU", cpu, None, "%", "", "≤ 1 %", cpu <= 1.0),
    ]


def _wait_indexed(m: Machine, deadline: float) -> float:
    """Wait until ``lorectl status`` reports nothing left to parse or index (or the
    deadline); returns when."""
    while time.perf_counter() < deadline:
        _, doc = m.json("status", what="status")
        if not (doc.get("local") or {}).get("index_pending"):
            break
        time.sleep(1.0)
    return time.perf_counter()


def _vm_hwm(pid: int) -> int | None:
    """Peak resident set (VmHWM) from /proc, in bytes."""
    try:
        for line in open(f"/proc/{pid}/status"):  # noqa: SIM115 - tiny read
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
