"""Profile one Lore path on the bench corpus with py-spy (client and server together).

    python -m bench.profile import|push|pull|status [--sessions N] [--size-scale F] [--out DIR]

Sets the stage like ``bench.run`` (corpus, import, server, login, push as needed), then
runs the measured ``lorectl`` command under ``py-spy record`` and, for push and pull,
attaches a second py-spy to the ``lore-server`` process for the same interval. Prints
the top functions by self time (the frame on top of the stack) and by inclusive time
(anywhere on the stack), and keeps the raw collapsed stacks in ``--out`` (load them in
speedscope or flamegraph.pl) for a closer look. py-spy samples other processes from outside, so the
profiled code runs unmodified and at nearly full speed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.context import Ctx, Sizes
from bench.procs import install_handlers, tool


def _pyspy() -> str:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(exe).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return exe


def summarize(raw: Path, top: int = 25, prefix: str = "") -> str:
    """Top functions of a py-spy ``--format raw`` file (``frame;frame;… count`` lines)."""
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        frames = [f for f in stack.split(";") if f]
        total += count
        if frames:
            self_t[_short(frames[-1])] += count
        for f in {_short(f) for f in frames}:
            incl[f] += count
    if not total:
        return f"{raw.name}: no samples"
    out = [f"{raw.name}: {total} samples", "  self%  function"]
    out += [f"  {100 * c / total:5.1f}  {f}" for f, c in self_t.most_common(top)]
    out += ["  incl%  function" + (f" (frames matching {prefix!r})" if prefix else "")]
    ranked = [(f, c) for f, c in incl.most_common() if prefix in f]
    out += [f"  {100 * c / total:5.1f}  {f}" for f, c in ranked[:top]]
    return "\n".join(out)


def _short(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` → ``func (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def main(argv: list[str] | None = None) -> int:
    """Prepare, profile and summarize."""
    ap = argparse.ArgumentParser(prog="python -m bench.profile")
    ap.add_argument("what", choices=("import", "push", "pull", "status"))
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--rate", type=int, default=200, help="samples per second")
    ap.add_argument("--out", type=Path, default=Path("/tmp/lore-profile"))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--size-scale", type=float, default=1.0,
                    help="multiply session sizes (0.05 with 20000 sessions: P3's scale corpus)")
    a = ap.parse_args(argv)
    install_handlers()
    from bench.run import compile_bytecode

    compile_bytecode()  # as bench.run measures it
    a.out.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(Sizes.pick(False, a.sessions), install=False, size_scale=a.size_scale)
    spy = _pyspy()
    try:
        m = ctx.machine("a")
        print(f"corpus: {ctx.corpus.total_bytes / 1e6:.0f} MB", file=sys.stderr)
        server_spy = None
        if a.what in ("push", "pull"):
            ctx.imported()
            ctx.logged_in("a")
            if a.what == "pull":
                ctx.pushed()
                m = ctx.logged_in("b")
            srv_pid = ctx.server.procs[0].pid
            server_spy = subprocess.Popen(
                [spy, "record", "--pid", str(srv_pid), "--rate", str(a.rate), "--format", "raw",
                 "-o", str(a.out / "server.raw"), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # let py-spy attach before the measured command starts
        elif a.what == "status":
            ctx.imported()
            m.start_daemon()
        t0 = time.perf_counter()
        r = subprocess.run(
            [spy, "record", "--rate", str(a.rate), "--format", "raw", "--subprocesses",
             "-o", str(a.out / "client.raw"), "--", tool("lorectl"), a.what, "--json"],
            env=m.env, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr[-2000:], file=sys.stderr)
        wall = time.perf_counter() - t0
        if server_spy is not None:
            server_spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
            server_spy.wait(60)
        print(f"lorectl {a.what}: {wall:.1f} s under py-spy\n")
        print(summarize(a.out / "client.raw", a.top, prefix="lore"))
        if (a.out / "server.raw").exists():
            print()
            print(summarize(a.out / "server.raw", a.top, prefix="lore"))
        print(f"\nraw stacks in {a.out}", file=sys.stderr)
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
