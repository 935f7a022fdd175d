"""A real ``systemd --user`` manager for tests, on a machine whose PID 1 is not systemd.

The mechanism (root only; systemd 252, util-linux): a private PID + mount namespace
whose PID 1 is ``ns_init.sh`` (it mounts what makes the namespace look booted with
systemd, starts a standalone ``systemd-journald`` and reaps orphans), a cgroup-v2
subtree ``<v2 root>/lore_<id>.slice/user@UID.service`` delegated to the test user as
logind would (without it ``systemd --user`` dies on ``mkdir …/init.scope`` = EACCES,
silently), and the manager exec'd as that user inside the subtree. Every command of a
test enters the namespace with ``nsenter`` and drops to the user with ``setpriv``, so
``systemctl --user`` and ``journalctl --user`` are the real programs talking to the
real manager over ``$XDG_RUNTIME_DIR/systemd/private`` (no D-Bus). Killing the
namespace's PID 1 ends every process in it (kernel); the cgroup subtree is killed and
removed, and the user deleted, at :meth:`UserManager.close`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEMD = Path("/lib/systemd/systemd")
NEEDED = ("unshare", "nsenter", "setpriv", "systemctl", "journalctl", "useradd", "userdel")


def missing_requirements() -> str | None:
    """Why a real user manager cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (namespaces, cgroup delegation, a test user)"
    if not SYSTEMD.exists() or not Path("/lib/systemd/systemd-journald").exists():
        return "systemd is not installed"
    for tool in NEEDED:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if _cgroup2_root() is None:
        return "no cgroup2 mount"
    return None


def _cgroup2_root() -> Path | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0,
             every: float = 0.1) -> None:
    """Poll ``check`` until true; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def _hidden_ancestor(path: Path) -> tuple[str, str] | None:
    """(dir, child) when others cannot traverse ``dir`` on the way to ``path``."""
    parts = path.resolve().parts
    for i in range(1, len(parts) - 1):
        here = Path(*parts[: i + 1])
        if not os.stat(here).st_mode & 0o001:
            return str(here), parts[i + 1]
    return None


class UserManager:
    """One test user with a running ``systemd --user`` (see the module docstring)."""

    def __init__(self, user: str | None = None) -> None:
        # one user per test process: parallel runs never delete each other's user
        self.user = user or f"loresvc{os.getpid() % 100000}"
        self.work = Path(tempfile.mkdtemp(prefix="lore-usermgr."))
        self.work.chmod(0o755)
        self._created_user = False
        self._ns: subprocess.Popen[bytes] | None = None
        self.manager_pid: int | None = None
        self.cg_root = _cgroup2_root()
        self.cg = self.cg_root / f"lore_{self.work.name.split('.')[-1]}.slice"  # type: ignore[operator]

    # --- set-up ---------------------------------------------------------------------
    def start(self) -> UserManager:
        """Create the user, the cgroup subtree and the namespace, then start the manager."""
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", self.user], check=True)
            self._created_user = True
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, Path(pw.pw_dir)
        self.xdg = self.work / "xdg"
        self.xdg.mkdir(mode=0o700)
        os.chown(self.xdg, self.uid, self.gid)
        (self.work / "journal").mkdir()
        user_cg = self.cg / f"user@{self.uid}.service"
        (self.cg / "journald.service").mkdir(parents=True)
        user_cg.mkdir()
        for f in [user_cg, *(user_cg / n for n in ("cgroup.procs", "cgroup.threads",
                                                    "cgroup.subtree_control"))]:
            os.chown(f, self.uid, self.gid)
        env = {**os.environ, "WORK": str(self.work), "CG_J": str(self.cg / "journald.service"),
               "PY": sys.executable, "HIDE_DIR": "", "HIDE_CHILD": ""}
        hidden = _hidden_ancestor(Path(sys.executable))
        if hidden:
            env["HIDE_DIR"], env["HIDE_CHILD"] = hidden
        self._ns = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--mount",
             "--propagation", "private", "bash", str(HERE / "ns_init.sh")],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.work / "ns.log", "wb"))
        wait_for(lambda: (self.work / "ns-ready").exists() or self._ns.poll() is not None,  # type: ignore[union-attr]
                 "the namespace to come up", 20)
        if self._ns.poll() is not None:
            raise RuntimeError(f"namespace set-up failed: {(self.work / 'ns.log').read_text()}")
        self.start_manager()
        return self

    @property
    def ns_pid(self) -> int:
        """The namespace's PID 1, as the host sees it (nsenter's target)."""
        assert self._ns is not None
        children = Path(f"/proc/{self._ns.pid}/task/{self._ns.pid}/children").read_text()
        return int(children.split()[0])

    def user_env(self) -> dict[str, str]:
        """The environment of the user's login session (what the manager would give)."""
        return {"HOME": str(self.home), "USER": self.user, "LOGNAME": self.user,
                "SHELL": "/bin/sh", "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                "XDG_RUNTIME_DIR": str(self.xdg), "PYTHONDONTWRITEBYTECODE": "1",
                "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.xdg}/bus"}

    def _enter(self, argv: Sequence[str], *, as_user: bool, env: dict[str, str] | None
               ) -> list[str]:
        cmd = ["nsenter", "-t", str(self.ns_pid), "-m", "-p", "--"]
        if as_user:
            environ = [f"{k}={v}" for k, v in {**self.user_env(), **(env or {})}.items()]
            cmd += ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                    "env", "-i", *environ]
        return cmd + list(argv)

    def run(self, *argv: str, as_user: bool = True, env: dict[str, str] | None = None,
            timeout: float = 60, check: bool = False, cwd: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace (as the test user unless ``as_user=False``)."""
        proc = subprocess.run(self._enter(argv, as_user=as_user, env=env), text=True,
                              capture_output=True, timeout=timeout, cwd=cwd or "/")
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def systemctl(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """``systemctl --user ARGS`` as the user."""
        return self.run("systemctl", "--user", *args, check=check, timeout=40)

    def prop(self, unit: str, name: str) -> str:
        """One property of a unit (``systemctl --user show -p NAME --value``)."""
        return self.systemctl("show", "-p", name, "--value", unit).stdout.strip()

    # --- the manager ---------------------------------------------------------------------
    def start_manager(self) -> None:
        """Start a fresh ``systemd --user`` (enabled units start, as after a login)."""
        user_cg = self.cg / f"user@{self.uid}.service"
        script = (f"echo $$ > {user_cg}/cgroup.procs; exec setpriv --reuid={self.uid} "
                  f"--regid={self.gid} --init-groups env -i "
                  + " ".join(f"{k}={v}" for k, v in self.user_env().items())
                  + " SYSTEMD_LOG_TARGET=journal-or-kmsg SYSTEMD_LOG_LEVEL=info "
                  + f"{SYSTEMD} --user > {self.work}/manager.log 2>&1 & echo $!")
        out = self.run("bash", "-c", script, as_user=False, check=True).stdout
        self.manager_pid = int(out.split()[-1])

        def up() -> bool:
            state = self.run("systemctl", "--user", "is-system-running", timeout=10).stdout
            return state.strip() in ("running", "degraded")

        wait_for(up, "systemd --user to be running", 30, 0.1)

    def stop_manager(self) -> None:
        """``systemctl --user exit`` (units stop as at logout); waits for the manager to end."""
        self.systemctl("exit")
        pid = self.manager_pid

        def gone() -> bool:
            return self.run("kill", "-0", str(pid), as_user=False).returncode != 0

        wait_for(gone, "the user manager to exit", 40, 0.1)

    def journal(self, unit: str) -> list[str]:
        """``journalctl --user -u UNIT -o cat`` lines."""
        return self.run("journalctl", "--user", "-u", unit, "--no-pager", "-o", "cat",
                        timeout=30).stdout.splitlines()

    # --- teardown --------------------------------------------------------------------
    def close(self) -> None:
        """Kill the namespace and the cgroup subtree; remove the user and the work dir."""
        if self._ns is not None:
            self._ns.kill()  # --kill-child: PID 1 of the namespace dies, and everything in it
            self._ns.wait(10)
        kill = self.cg / "cgroup.kill"
        if kill.exists():
            kill.write_text("1")
        subdirs = list(self.cg.rglob("*")) if self.cg.exists() else []
        for d in sorted(subdirs, key=lambda p: -len(p.parts)):  # deepest first
            if d.is_dir():
                _rmdir_retry(d)
        if self.cg.exists():
            _rmdir_retry(self.cg)
        if self._created_user:
            subprocess.run(["userdel", "-r", self.user], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


def _rmdir_retry(d: Path) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
