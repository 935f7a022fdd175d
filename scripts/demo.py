"""`make demo`: Lore end to end on one machine, in under a minute.

Starts a local lore-server on SQLite in a temp dir, creates an account, starts two
simulated machines (own HOME and LORE_HOME each) with `lored` running, drops the
sample transcripts of the test fixtures into machine A's tool folders, waits until
they appear on machine B, prints `lorectl status` and `lorectl sessions list` for
both, then stops everything it started (also on Ctrl-C).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures"
EMAIL = "demo@example.com"
PASSWORD = "demo-account-password"
PASSPHRASE = "correct horse battery staple"
DEADLINE_S = 45.0


def say(text: str) -> None:
    """One line of demo narration."""
    print(f"\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"==> {text}", flush=True)


class Demo:
    """Owns every process and directory the demo creates, and cleans them up."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="lore-demo-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.url = ""

    # --- processes -------------------------------------------------------------
    def machine_env(self, name: str) -> dict[str, str]:
        home = self.tmp / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
        env.update(
            HOME=str(home),
            LORE_HOME=str(self.tmp / name / "lore"),
            LORE_PASSWORD=PASSWORD,
            LORE_PASSPHRASE=PASSPHRASE,
            LORE_SYNC_INTERVAL="3s",
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            NO_COLOR="1",
        )
        for var in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "NOTIFY_SOCKET"):
            env.pop(var, None)
        return env

    def lorectl(self, name: str, *args: str, check: bool = True) -> str:
        res = subprocess.run(
            [str(BIN / "lorectl"), *args], env=self.machine_env(name),
            capture_output=True, text=True, timeout=60,
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"lorectl {' '.join(args)} on {name} failed:\n{res.stderr}")
        return res.stdout

    def start_server(self) -> None:
        data = self.tmp / "server"
        proc = subprocess.Popen(
            [str(BIN / "lore-server"), "serve", "--port", "0", "--data-dir", str(data)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            m = re.search(r"(http://\S+)", line)
            if m:
                self.url = m.group(1).rstrip("/")
                break
            if proc.poll() is not None:
                raise RuntimeError("lore-server exited during start-up")
        if not self.url:
            raise RuntimeError("lore-server did not report its URL in time")
        subprocess.run(
            [str(BIN / "lore-server"), "user", "add", EMAIL, "--plan", "pro",
             "--password-stdin", "--data-dir", str(data)],
            input=PASSWORD + "\n", text=True, check=True, capture_output=True,
        )

    def start_daemon(self, name: str) -> None:
        log = (self.tmp / name / "lored.log").open("wb")
        proc = subprocess.Popen([str(BIN / "lored")], env=self.machine_env(name),
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = json.loads(self.lorectl(name, "status", "--json"))
            if status.get("daemon", {}).get("running"):
                return
            if proc.poll() is not None:
                raise RuntimeError(f"lored on {name} exited; see {log.name}")
            time.sleep(0.2)
        raise RuntimeError(f"lored on {name} did not answer in time")

    def drop_transcripts(self, name: str) -> None:
        home = self.tmp / name / "home"
        shutil.copytree(FIXTURES / "claude", home / ".claude", dirs_exist_ok=True)
        shutil.copytree(FIXTURES / "codex", home / ".codex", dirs_exist_ok=True)
        shutil.copytree(FIXTURES / "gemini", home / ".gemini", dirs_exist_ok=True)

    def wait_for_sessions(self, name: str, expected: set[str]) -> float:
        start = time.monotonic()
        while time.monotonic() - start < DEADLINE_S:
            have = {s["id"] for s in json.loads(self.lorectl(name, "sessions", "list", "--json"))}
            if expected <= have:
                return time.monotonic() - start
            time.sleep(0.5)
        raise RuntimeError(f"sessions did not reach machine {name} within {DEADLINE_S:.0f} s")

    def cleanup(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the story -------------------------------------------------------------
    def run(self) -> None:
        say(f"Starting lore-server on SQLite in {self.tmp / 'server'}")
        self.start_server()
        say(f"Lore Cloud at {self.url}; account {EMAIL} created")
        for name in ("A", "B"):
            lore_home = self.tmp / name / "lore"
            lore_home.mkdir(parents=True, exist_ok=True)
            (lore_home / "config.toml").write_text(f'machine_name = "machine-{name}"\n')
            self.lorectl(name, "login", "--server", self.url, "--email", EMAIL)
        say("Machine A: first push sets up end-to-end encryption")
        self.lorectl("A", "push")
        say("Machine B: unlocks the account key with the passphrase")
        self.lorectl("B", "pull")
        for name in ("A", "B"):
            self.start_daemon(name)
        say("Both daemons running; dropping sample transcripts into machine A's tool folders")
        self.drop_transcripts("A")
        self.lorectl("A", "import")
        expected = {s["id"] for s in json.loads(self.lorectl("A", "sessions", "list", "--json"))}
        say(f"Machine A captured {len(expected)} sessions; waiting for them on machine B")
        took = self.wait_for_sessions("B", expected)
        say(f"All {len(expected)} sessions arrived on machine B after {took:.1f} s")
        for name in ("A", "B"):
            say(f"Machine {name}: lorectl status")
            print(self.lorectl(name, "status"))
            say(f"Machine {name}: lorectl sessions list")
            print(self.lorectl(name, "sessions", "list"))


def main() -> int:
    """Run the demo; returns the process exit code."""
    demo = Demo()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        demo.run()
        say("Demo finished; stopping everything")
        return 0
    except KeyboardInterrupt:
        say("Interrupted; cleaning up")
        return 130
    except Exception as exc:  # the demo reports, then cleans up
        print(f"demo failed: {exc}", file=sys.stderr)
        for log in sorted(demo.tmp.glob("*/lored.log")):
            print(f"--- last lines of {log.parent.name}'s lored log:", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
        return 1
    finally:
        demo.cleanup()


if __name__ == "__main__":
    sys.exit(main())
