"""Ctrl-C during a bulk first import: one word, exit 130, no worker left or talking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from lored.capture.bulk import MIN_SOURCES
from tests.daemonproc import BIN, Machine, wait_for
from tests.sync.sessions import lines, native_id


def _workers(pid: int) -> list[int]:
    """The spawned worker processes under ``pid`` (multiprocessing's, by command line)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"multiprocessing" in cmd:
            out.append(int(entry))
    return out


def test_ctrl_c_in_a_bulk_import(tmp_path: Path) -> None:
    m = Machine(tmp_path / "m")
    folder = m.home / ".claude/projects/-home-dev-projects-webapp"
    folder.mkdir(parents=True)
    # enough work that the pool is still busy when the signal comes
    for i in range(4 * MIN_SOURCES):
        (folder / f"{native_id(f'i{i}')}.jsonl").write_bytes(
            lines(f"i{i}", 200, pad=2000))
    proc = subprocess.Popen([str(BIN / "lorectl"), "import", "--json"], env=m.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True,  # its own group, as at a terminal
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        workers = wait_for(lambda: _workers(proc.pid), timeout=30,
                           what="the import's worker processes")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode == 0:  # it finished before the signal landed: nothing to judge
        assert json.loads(out)["imported"] == 4 * MIN_SOURCES
        return
    assert proc.returncode == 130, err
    assert err.decode().strip() == "interrupted", err  # no worker traceback
    wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), timeout=15,
             what="the workers to exit")
    # what was written is whole: the next import finishes the job
    again = json.loads(m.lorectl("import", "--json").stdout)
    assert again["imported"] + again["unchanged"] == 4 * MIN_SOURCES and not again["errors"]
