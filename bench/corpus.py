"""Deterministic Claude-Code-format corpus in a fake HOME (PERFORMANCE.md, "Corpus").

    python -m bench.corpus --sessions 2000 --seed 1 --out /tmp/corpus

writes ``DIR/home/.claude/projects/<escaped cwd>/<sessionId>.jsonl``. Session sizes follow
a log-normal body (median 40 KB, σ = 1) up to the 97th percentile, then a steeper tail to
p99 ≈ 5 MB and ≈ 8 MB, and the top 0.15 % (3 of 2,000) at ≈ 20 MB. A single log-normal
through median 40 KB and p99 5 MB would weigh ≈ 600 MB at 2,000 sessions; the spliced
tail keeps the documented ≈ 300 MB total while honouring the median, p99 and "a few
≈ 20 MB". Sizes are taken at evenly spaced quantiles (shuffled by the seed), so small
corpora still have the right shape and the same seed always gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

from bench._session import append_record, session_lines

MEDIAN = 40_000
SIGMA = 1.0
_ND = NormalDist()
#: (quantile, bytes) anchors of the tail, joined linearly in (z, log size)
_TAIL = ((0.97, None), (0.99, 5_000_000), (0.9985, 8_000_000))
HUGE = 20_000_000


def size_at(q: float, scale: float = 1.0) -> int:
    """Target size in bytes of the session at quantile ``q`` (0 < q < 1)."""
    z = _ND.inv_cdf(q)
    z0 = _ND.inv_cdf(_TAIL[0][0])
    if z <= z0:
        return int(scale * MEDIAN * math.exp(SIGMA * z))
    if q > _TAIL[-1][0]:
        return int(scale * HUGE)
    pts = [(z0, math.log(MEDIAN) + SIGMA * z0)]
    pts += [(_ND.inv_cdf(qq), math.log(b)) for qq, b in _TAIL[1:] if b]
    for (za, la), (zb, lb) in zip(pts, pts[1:], strict=False):
        if z <= zb:
            return int(scale * math.exp(la + (lb - la) * (z - za) / (zb - za)))
    return int(scale * math.exp(pts[-1][1]))  # pragma: no cover - q ≤ last anchor


def target_sizes(sessions: int, seed: int, scale: float = 1.0) -> list[int]:
    """The sizes of all sessions, in session order (evenly spaced quantiles, shuffled)."""
    sizes = [size_at((i + 0.5) / sessions, scale) for i in range(sessions)]
    random.Random(f"lore-bench-sizes:{seed}").shuffle(sizes)
    return sizes


def escape_cwd(cwd: str) -> str:
    """Claude Code's folder name for a cwd: every non-alphanumeric character → ``-``."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


@dataclass
class CorpusInfo:
    """What :func:`generate` wrote."""

    out_dir: Path
    home: Path
    seed: int
    files: list[Path] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def sessions(self) -> int:
        """Number of session files."""
        return len(self.files)

    @property
    def total_bytes(self) -> int:
        """Sum of the session file sizes."""
        return sum(self.sizes)

    @property
    def projects_dir(self) -> Path:
        """``HOME/.claude/projects``."""
        return self.home / ".claude" / "projects"

    def digest(self) -> str:
        """SHA-256 over every file's relative path and bytes (determinism checks)."""
        h = hashlib.sha256()
        for p in sorted(self.files):
            h.update(str(p.relative_to(self.home)).encode())
            h.update(p.read_bytes())
        return h.hexdigest()


def generate(
    out_dir: Path | str, sessions: int = 2000, seed: int = 1, *, scale: float = 1.0
) -> CorpusInfo:
    """Write ``sessions`` Claude Code transcripts under ``out_dir/home``.

    ``scale`` multiplies every target size (P3's 20,000-session run uses small sessions:
    it is about the number of sessions, not their bytes).
    """
    from bench._text import build_pools

    t0 = time.perf_counter()
    out = Path(out_dir)
    info = CorpusInfo(out_dir=out, home=out / "home", seed=seed)
    pools = build_pools(seed)
    projects = _projects(seed)
    made_dirs: set[Path] = set()
    for i, target in enumerate(target_sizes(sessions, seed, scale)):
        rng = random.Random(f"lore-bench-session:{seed}:{i}")
        cwd = rng.choice(projects)
        sid, lines = session_lines(rng, pools, cwd, i, max(target, 600))
        folder = info.projects_dir / escape_cwd(cwd)
        if folder not in made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            made_dirs.add(folder)
        path = folder / f"{sid}.jsonl"
        data = b"".join(lines)
        path.write_bytes(data)
        info.files.append(path)
        info.sizes.append(len(data))
    info.seconds = time.perf_counter() - t0
    return info


def _projects(seed: int) -> list[str]:
    rng = random.Random(f"lore-bench-projects:{seed}")
    names = ["webapp", "api-gateway", "billing", "infra", "mobile-app", "data-pipeline",
             "docs-site", "cli-tool", "ml-training", "auth-service", "search", "dashboard"]
    out = [f"/home/dev/projects/{n}" for n in names]
    out += [f"/home/dev/work/{rng.choice(names)}-{rng.randint(2, 99)}" for _ in range(18)]
    return out


def append_to_sessions(
    info: CorpusInfo, count: int = 20, nbytes: int = 1024, seed: int = 7
) -> int:
    """Append ``nbytes`` of valid JSONL (one user record) to ``count`` sessions.

    Picks the sessions deterministically, skipping the huge ones (a 1 KB append to a
    20 MB file is the same job, but keeps the anchor's whole-file re-upload moderate).
    Returns the total number of bytes appended.
    """
    rng = random.Random(f"lore-bench-append:{info.seed}:{seed}")
    order = sorted(range(len(info.files)), key=lambda i: info.sizes[i])
    candidates = order[: max(count, len(order) * 9 // 10)]
    picked = rng.sample(candidates, min(count, len(candidates)))
    total = 0
    for i in picked:
        path = info.files[i]
        record = append_record(rng, path, nbytes)
        with path.open("ab") as fh:
            fh.write(record)
        info.sizes[i] += len(record)
        total += len(record)
    return total


def main(argv: list[str] | None = None) -> int:
    """CLI: write a corpus and print a one-line summary (and JSON with ``--json``)."""
    ap = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every session size")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    info = generate(a.out, a.sessions, a.seed, scale=a.scale)
    s = sorted(info.sizes)
    summary = {
        "home": str(info.home), "sessions": info.sessions, "total_bytes": info.total_bytes,
        "median": s[len(s) // 2], "p99": s[min(len(s) - 1, int(len(s) * 0.99))], "max": s[-1],
        "seconds": round(info.seconds, 2),
    }
    if a.json:
        print(json.dumps(summary))
    else:
        print(", ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
