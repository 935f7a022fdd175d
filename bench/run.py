"""``make bench``: run P1–P11 against their anchors and print one table.

    python -m bench.run [--sessions N] [--smoke] [--only P1,P3] [--no-scale] [--keep]

Every scenario runs in this one process run with its anchor measured alongside, prints
into one table ``scenario | lore | anchor | ratio | bar | verdict`` and is written to
``bench/results/latest.json`` with the date, the machine and the corpus. A scenario whose
Lore part is not built (or fails) shows ``n/a: <reason>`` instead of a number.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.context import Ctx, Sizes
from bench.procs import Unavailable, install_handlers
from bench.report import RESULTS, Row, na, render, write_json
from bench.scenarios import capture, daemon, load, mcp, noop, search, transfer

# Order matters only for speed: each builds on what the previous left behind (P8's
# import, P1's push); every scenario also runs alone (``--only``) via Ctx prerequisites.
SCENARIOS: dict[str, Callable[[Ctx], list[Row]]] = {
    "P8": capture.p8,
    "P1": transfer.p1,
    "P2": transfer.p2,
    "P3": noop.p3,
    "P4": transfer.p4,
    "P5": daemon.p5,
    "P6": daemon.p6,
    "P7": load.p7,
    "P9": search.p9,
    "P11": mcp.p11,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=None, help="corpus size (default 2000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: runs in seconds")
    ap.add_argument("--only", default="", help="comma-separated scenarios, e.g. P1,P3")
    ap.add_argument("--scale", action=argparse.BooleanOptionalAction, default=None,
                    help="P3 also at 20,000 sessions (default: on, off with --smoke)")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install rclone")
    ap.add_argument("--json-out", type=Path, default=None,
                    help="where to write the JSON (default bench/results/latest.json)")
    return ap.parse_args(argv)


def select(only: str) -> list[str]:
    """Scenario ids to run, in table order (``P1`` also covers ``P1f``)."""
    if not only:
        return list(SCENARIOS)
    wanted = {x.strip().upper().rstrip("F") for x in only.split(",") if x.strip()}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return [k for k in SCENARIOS if k in wanted]


def run_one(ctx: Ctx, key: str) -> list[Row]:
    """One scenario; any failure becomes an n/a row with its reason."""
    t0 = time.perf_counter()
    print(f"bench: {key} …", file=sys.stderr, flush=True)
    try:
        rows = SCENARIOS[key](ctx)
    except Unavailable as e:
        rows = [na(key, "", str(e))]
    except Exception as e:  # noqa: BLE001 - a harness bug must not hide the other rows
        traceback.print_exc()
        rows = [na(key, "", f"harness error: {type(e).__name__}: {e}")]
    print(f"bench: {key} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return rows


def order_rows(rows: list[Row]) -> list[Row]:
    """Rows in scenario-number order (P1 … P8), stable within a scenario."""
    def num(r: Row) -> int:
        digits = "".join(c for c in r.scenario if c.isdigit())
        return int(digits) if digits else 99

    return sorted(rows, key=num)


def compile_bytecode() -> None:
    """Byte-compile Lore's packages, as installing a wheel does.

    This dev venv is an editable install and the environment may set
    PYTHONDONTWRITEBYTECODE=1, so without this every ``lorectl`` start recompiles ~150
    modules (0.1–0.4 s of each CLI wall time here) — a cost an installed Lore never pays.
    ``compileall`` writes ``__pycache__`` regardless of that variable; a module edited
    later is recompiled (in memory) as usual, its stale file ignored.
    """
    import compileall

    root = Path(__file__).resolve().parents[1]
    for pkg in ("lored", "lorectl", "loreproto", "lorecloud"):
        compileall.compile_dir(str(root / pkg), quiet=1)


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios, print the table, write the JSON."""
    args = parse_args(argv)
    keys = select(args.only)
    install_handlers()
    compile_bytecode()
    sizes = Sizes.pick(args.smoke, args.sessions)
    scale = (not args.smoke) if args.scale is None else args.scale
    ctx = Ctx(sizes, seed=args.seed, keep=args.keep, install=not args.no_install,
              scale=scale)
    rows: list[Row] = []
    t0 = time.perf_counter()
    try:
        print(f"bench: corpus of {sizes.sessions} sessions in {ctx.work} …", file=sys.stderr)
        c = ctx.corpus
        print(f"bench: corpus {c.total_bytes / 1e6:.1f} MB in {c.seconds:.1f} s",
              file=sys.stderr)
        for key in keys:
            rows += run_one(ctx, key)
    finally:
        ctx.close()
    rows = order_rows(rows)
    table = render(rows)
    print(table)
    corpus = {"sessions": ctx.corpus.sessions, "bytes": ctx.corpus.total_bytes,
              "seed": args.seed, "generate_seconds": round(ctx.corpus.seconds, 2)}
    path = write_json(rows, {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "smoke": args.smoke, "scenarios": keys, "corpus": corpus,
        "seconds": round(time.perf_counter() - t0, 1), "table": table,
    }, args.json_out or RESULTS)
    print(f"\nwritten to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
