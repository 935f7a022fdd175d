"""Per-operation server costs: what one sync cycle costs lore-server, PostgreSQL and S3.

    python -m bench.costs [--n 200] [--settle 11] [--json]

Starts a real PostgreSQL 15 (``bench/pg.py``), SeaweedFS's S3 gateway (``bench/s3.py``)
and one ``lore-server serve --database-url … --blob-store s3://…`` (P7's flags), then
drives Lore's own client in this process — ``lored.api.Lore``, the facade ``lorectl``
and ``lored`` run — through N accounts of two machines each (a and b). Every operation
is one daemon cycle (``Lore.sync``: pull, then push), run one at a time:

* ``noop``: machine a syncs with nothing changed anywhere;
* ``push``: machine a captured one new typical session (the bench corpus' median, 40 KB
  of JSONL; the import is client-only and outside the timer) and syncs;
* ``pull``: machine b syncs and pulls that one session.

Around each batch of N it takes deltas of: CPU seconds (utime+stime from ``/proc``) of
the lore-server process and of the whole PostgreSQL cluster (postmaster, live backends
and the reaped ones' cutime/cstime); ``pg_stat_database`` of the server's database and
``pg_current_wal_lsn()``; SeaweedFS's own Prometheus counters (S3 requests by type, bytes
in/out of the bucket); the API calls the client made; and wall time. One account per
operation keeps each pull to exactly one session. PostgreSQL flushes a backend's
statistics at most once a second and an idle backend's last ones after 10 s, so the
database counters are read ``--settle`` seconds after a batch (CPU, WAL and S3 at once).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.lore import PASSPHRASE, PASSWORD, LoreServer, clean_env
from bench.procs import Unavailable, install_handlers

KINDS = ("noop", "push", "pull")
PG_FIELDS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted",
             "tup_updated", "tup_deleted", "blks_hit", "blks_read")
SESSION_BYTES = 40_000  # the corpus median (bench/corpus.py MEDIAN)
DB = "lore_costs"
RESULT = Path(__file__).resolve().parent / "results" / "costs.json"
_TICK = os.sysconf("SC_CLK_TCK")
#: docs/scaling.md's deployment: 100,000 users × 3 machines, a cycle every 15 minutes;
#: the share of cycles that push or pull one session is an assumption, not measured
MACHINES, INTERVAL_S = 300_000, 900
SHARE = {"noop": 0.7, "push": 0.1, "pull": 0.2}


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its descendants: live ones' utime+stime, plus the
    cutime+cstime every process holds for the children it has reaped."""
    stats: dict[int, tuple[int, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
            stats[int(entry)] = (int(fields[1]), fields)
    wanted, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in wanted:
            wanted.add(pid)
            todo += [p for p, (ppid, _) in stats.items() if ppid == pid]
    # fields (0-based after comm): 11 utime, 12 stime, 13 cutime, 14 cstime
    return sum(sum(int(x) for x in stats[p][1][11:15]) for p in wanted) / _TICK


def s3_counters(metrics_url: str) -> dict[str, float]:
    """SeaweedFS's S3 counters: requests by type (HEAD and LIST count as GET) and bytes."""
    out: dict[str, float] = {}
    with urllib.request.urlopen(metrics_url, timeout=10) as r:  # noqa: S310 - loopback
        text = r.read().decode()
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("SeaweedFS_s3_request_total{"):
            kind = name.split('type="', 1)[1].split('"', 1)[0]
            out[f"s3_{kind}"] = out.get(f"s3_{kind}", 0.0) + float(value)
        elif name.startswith("SeaweedFS_s3_bucket_traffic_received_bytes_total"):
            out["s3_bytes_in"] = out.get("s3_bytes_in", 0.0) + float(value)
        elif name.startswith("SeaweedFS_s3_bucket_traffic_sent_bytes_total"):
            out["s3_bytes_out"] = out.get("s3_bytes_out", 0.0) + float(value)
    return out


async def pg_counters(admin: Any) -> dict[str, float]:
    """``pg_stat_database`` of the server's database and the WAL position, read on a
    connection to another database (``admin``: so these reads are not counted)."""
    row = await admin.fetchrow(
        f"SELECT {', '.join(PG_FIELDS)}, pg_current_wal_lsn() - '0/0'::pg_lsn AS wal"
        " FROM pg_stat_database WHERE datname = $1", DB)
    return {k: float(v) for k, v in dict(row).items()}


def count_calls() -> list[int]:
    """Count every API call of Lore's HTTP client in this process (box[0])."""
    from lored.sync.http import HttpRemote

    box = [0]
    original = HttpRemote._call

    async def counted(self: HttpRemote, *args: Any, **kw: Any) -> Any:
        box[0] += 1
        return await original(self, *args, **kw)

    HttpRemote._call = counted  # type: ignore[method-assign]
    return box


class Machine:
    """One machine of an account: its LORE_HOME, HOME and an open ``Lore``."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.env = clean_env(LORE_HOME=str(root / "lore"), HOME=str(self.home))
        self.lore: Any = None

    async def open(self, url: str, email: str, register: bool) -> None:
        """Open the store and log in (registering the account first for machine a)."""
        from lored.api import Lore
        from lored.config import load_settings

        def secrets(kind: str) -> str:
            return PASSWORD if kind == "password" else PASSPHRASE

        self.lore = await Lore.open(load_settings(self.env), secrets=secrets)
        await self.lore.login(url, email, PASSWORD, register=register)

    async def capture(self, rng: random.Random, index: int) -> None:
        """Write one new Claude Code session of about SESSION_BYTES and import it."""
        from bench._session import session_lines
        from bench.corpus import escape_cwd
        from lored.capture.importer import import_all

        sid, lines = session_lines(rng, _pools(), "/home/dev/projects/webapp", index,
                                   SESSION_BYTES)
        path = self.home / ".claude" / "projects" / escape_cwd("/home/dev/projects/webapp")
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{sid}.jsonl").write_bytes(b"".join(lines))
        await import_all(self.lore.store, self.lore.settings, env=self.env,
                         only=[str(path / f"{sid}.jsonl")])


@functools.cache
def _pools() -> Any:
    """The corpus generator's text pools (seed 1), built once."""
    from bench._text import build_pools

    return build_pools(1)


class Bench:
    """The three services, N accounts of machines a and b, and the counters."""

    def __init__(self, work: Path, pg: Any, s3: Any, srv: LoreServer, settle: float) -> None:
        self.work, self.pg, self.s3, self.srv, self.settle = work, pg, s3, srv, settle
        self.db_url = srv.database_url or ""
        self.calls = count_calls()
        self.rng = random.Random(21)
        self.accounts: list[tuple[Machine, Machine]] = []
        self.admin: Any = None  # one connection for every read of the counters

    async def setup(self, n: int) -> None:
        """N accounts; a pushes a first session (sets up encryption), b pulls it.

        Four accounts at a time: set-up is not measured, and it is mostly Argon2id (the
        client's key, the server's password hashes), which leaves the loop idle.
        """
        async def one(i: int) -> tuple[Machine, Machine]:
            a, b = Machine(self.work / f"a{i}"), Machine(self.work / f"b{i}")
            email = f"costs{i}@example.com"
            await a.open(self.srv.url, email, register=True)
            await b.open(self.srv.url, email, register=False)
            await a.capture(self.rng, 0)
            await a.lore.sync()
            await b.lore.sync()
            return a, b

        import asyncpg

        self.admin = await asyncpg.connect(self.pg.url)
        for k in range(0, n, 4):
            self.accounts += await asyncio.gather(*(one(i) for i in range(k, min(n, k + 4))))

    async def tables(self) -> dict[str, dict[str, int]]:
        """Rows and bytes (heap + indexes + TOAST) of every table of the server's database."""
        import asyncpg

        conn = await asyncpg.connect(self.db_url)
        try:
            names = [r[0] for r in await conn.fetch(
                "SELECT relname FROM pg_stat_user_tables ORDER BY relname")]
            out = {name: {"rows": int(await conn.fetchval(f'SELECT count(*) FROM "{name}"')),
                          "bytes": int(await conn.fetchval(
                              "SELECT pg_total_relation_size($1::regclass)", name))}
                   for name in names}
            out["(database)"] = {"rows": 0, "bytes": int(await conn.fetchval(
                "SELECT pg_database_size(current_database())"))}
            return out
        finally:
            await conn.close()

    async def snapshot(self) -> dict[str, float]:
        """Every counter now (CPU, S3, client calls; database counters after settle)."""
        snap = {"server_cpu": tree_cpu(self.srv.procs[0].pid),
                "pg_cpu": tree_cpu(self.pg.pids()[0]), "s3_cpu": tree_cpu(self.s3.pids()[0]),
                "http_requests": float(self.calls[0]), "t": time.perf_counter()}
        snap.update(s3_counters(self.s3.metrics_url))
        snap["wal"] = (await pg_counters(self.admin))["wal"]
        return snap

    async def run_batch(self, kind: str) -> dict[str, float]:
        """One operation per account; the counters' deltas and the client-side totals."""
        db0 = await pg_counters(self.admin)
        s0 = await self.snapshot()
        wall = up = down = 0.0
        for i, (a, b) in enumerate(self.accounts):
            if kind == "push":
                await a.capture(self.rng, i + 1)  # client-only: not in the wall time
            t0 = time.perf_counter()
            doc = await (b if kind == "pull" else a).lore.sync()
            wall += time.perf_counter() - t0
            pulled, pushed = len(doc["pull"].get("sessions") or []), doc["push"].get("pushed", 0)
            want = {"noop": (0, 0), "push": (0, 1), "pull": (1, 0)}[kind]
            if (pulled, pushed) != want:
                raise RuntimeError(f"{kind} cycle {i}: pulled {pulled}, pushed {pushed}: {doc}")
            up += doc["push"].get("bytes_uploaded") or 0
            down += doc["pull"].get("bytes_downloaded") or 0
        s1 = await self.snapshot()
        await asyncio.sleep(self.settle)  # let every backend flush its statistics
        db1 = await pg_counters(self.admin)
        out = {k: s1.get(k, 0.0) - s0.get(k, 0.0) for k in s1 if k not in ("t", "wal")}
        out.update({k: db1[k] - db0[k] for k in PG_FIELDS})
        out.update(wal_bytes=s1["wal"] - s0["wal"], wall_s=wall, batch_s=s1["t"] - s0["t"],
                   client_bytes_up=up, client_bytes_down=down)
        return out

    async def close(self) -> None:
        """Close every Lore and the counters' connection."""
        if self.admin is not None:
            await self.admin.close()
        for pair in self.accounts:
            for m in pair:
                await m.lore.close()


async def measure(work: Path, n: int, settle: float, pg: Any, s3: Any,
                  srv: LoreServer) -> dict[str, Any]:
    """Set up N accounts, settle, run the three batches -> per-operation figures and
    the tables' rows and bytes at the end."""
    bench = Bench(work, pg, s3, srv, settle)
    try:
        print(f"costs: setting up {n} accounts …", file=sys.stderr, flush=True)
        await bench.setup(n)
        await asyncio.sleep(settle)
        per: dict[str, dict[str, float]] = {}
        for kind in KINDS:
            print(f"costs: {n} × {kind} …", file=sys.stderr, flush=True)
            per[kind] = {k: v / n for k, v in (await bench.run_batch(kind)).items()}
        return {"per_operation": per, "tables": await bench.tables()}
    finally:
        await bench.close()


ROWS = (  # (label, key, scale, format)
    ("wall time per cycle, ms (client, sequential)", "wall_s", 1000, "{:.1f}"),
    ("HTTP requests (client)", "http_requests", 1, "{:.2f}"),
    ("lore-server CPU, ms", "server_cpu", 1000, "{:.2f}"),
    ("PostgreSQL CPU, ms (all processes)", "pg_cpu", 1000, "{:.2f}"),
    ("SeaweedFS CPU, ms (master+volume+filer+S3)", "s3_cpu", 1000, "{:.2f}"),
    ("transactions committed", "xact_commit", 1, "{:.1f}"),
    ("tuples returned (scanned)", "tup_returned", 1, "{:.1f}"),
    ("tuples fetched (by index)", "tup_fetched", 1, "{:.1f}"),
    ("tuples inserted", "tup_inserted", 1, "{:.2f}"),
    ("tuples updated", "tup_updated", 1, "{:.2f}"),
    ("tuples deleted", "tup_deleted", 1, "{:.2f}"),
    ("buffer hits", "blks_hit", 1, "{:.0f}"),
    ("buffer reads", "blks_read", 1, "{:.2f}"),
    ("WAL bytes", "wal_bytes", 1, "{:,.0f}"),
    ("S3 PUT", "s3_PUT", 1, "{:.2f}"),
    ("S3 GET (incl. HEAD, LIST)", "s3_GET", 1, "{:.2f}"),
    ("S3 DELETE", "s3_DELETE", 1, "{:.2f}"),
    ("S3 bytes in (to the bucket)", "s3_bytes_in", 1, "{:,.0f}"),
    ("S3 bytes out (from the bucket)", "s3_bytes_out", 1, "{:,.0f}"),
    ("sealed bytes up (client's push report)", "client_bytes_up", 1, "{:,.0f}"),
    ("bytes down (client's pull report)", "client_bytes_down", 1, "{:,.0f}"),
)


def model(per: dict[str, dict[str, float]]) -> dict[str, float]:
    """The deployment's load per second from the measured per-operation costs."""
    rate = {k: MACHINES / INTERVAL_S * SHARE[k] for k in KINDS}

    def total(*keys: str) -> float:
        return sum(rate[k] * per[k].get(key, 0.0) for k in KINDS for key in keys)

    return {"cycles": MACHINES / INTERVAL_S, "http_requests": total("http_requests"),
            "server_cores": total("server_cpu"), "pg_cores": total("pg_cpu"),
            "transactions": total("xact_commit"),
            "rows_read": total("tup_returned", "tup_fetched"),
            "rows_written": total("tup_inserted", "tup_updated", "tup_deleted"),
            "wal_bytes": total("wal_bytes"), "s3_put": total("s3_PUT"),
            "s3_get": total("s3_GET"), "s3_bytes_in": total("s3_bytes_in"),
            "s3_bytes_out": total("s3_bytes_out")}


def render(per: dict[str, dict[str, float]], n: int) -> str:
    """The per-operation table (one column per kind) and the caveat on wall time."""
    lines = [f"| per operation (N = {n} each) | no-op cycle | push cycle | pull cycle |",
             "|---|---|---|---|"]
    for label, key, scale, form in ROWS:
        cells = [form.format(per[k].get(key, 0.0) * scale) for k in KINDS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    shares = ", ".join(f"{SHARE[k]:.0%} {k}" for k in KINDS)
    lines.append(f"\n{MACHINES:,} machines every {INTERVAL_S // 60} min ({shares}; assumed), "
                 "per second: " + ", ".join(f"{k} {v:,.2f}" for k, v in model(per).items()))
    lines.append("\nCPU seconds are robust under load (they count the work done, not the "
                 "waiting; loaded runs still differ by up to ≈ 50 %); wall time is not: on a "
                 "shared machine it includes waiting for a core.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Start PostgreSQL, SeaweedFS and lore-server; measure; print (and write JSON)."""
    ap = argparse.ArgumentParser(prog="python -m bench.costs", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="operations of each kind (accounts)")
    ap.add_argument("--settle", type=float, default=11.0,
                    help="seconds before reading pg_stat_database (PostgreSQL flushes idle "
                    "backends' statistics after 10 s)")
    ap.add_argument("--json", action="store_true", help="also write bench/results/costs.json")
    ap.add_argument("--json-out", type=Path, default=None, help="write the JSON here instead")
    args = ap.parse_args(argv)
    import tempfile

    from bench.pg import PgServer
    from bench.report import machine
    from bench.s3 import S3Server

    install_handlers()
    work = Path(tempfile.mkdtemp(prefix="lore-bench-costs-"))
    pg, s3 = PgServer(), S3Server()
    srv: LoreServer | None = None
    try:
        pg.start()
        s3.start()
        srv = LoreServer(work / "server", database_url=pg.database(DB), proxy=False,
                         extra_args=("--blob-store", s3.url(), "--open-registration"))
        srv.env.update(s3.env)
        srv.start()
        result = asyncio.run(measure(work, args.n, args.settle, pg, s3, srv))
    except Unavailable as e:
        print(f"costs: n/a: {e}", file=sys.stderr)
        return 2
    finally:
        if srv is not None:
            srv.stop()
        s3.stop()
        pg.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    per = result["per_operation"]
    print(render(per, args.n))
    print("\ntables at the end (rows, bytes incl. indexes): " + ", ".join(
        f"{k} {v['rows']:,} / {v['bytes']:,}" for k, v in result["tables"].items()))
    if args.json or args.json_out:
        out = args.json_out or RESULT
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "command": "python -m bench.costs " + " ".join(argv or sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
            "load_average": os.getloadavg(), "n": args.n, "settle_s": args.settle,
            "session_bytes": SESSION_BYTES, **result, "model_per_s": model(per),
            "table": render(per, args.n)}, indent=2) + "\n")
        print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
