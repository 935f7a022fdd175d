"""``lore-server`` as an operator runs it: start-up errors, admin commands, SIGTERM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.http.client import PASSWORD, Api, frame
from tests.serverproc import REPO, ServerProc, start_server


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "lorecloud.cli", *args], input=input,
                          capture_output=True, text=True, env=full_env, timeout=60)


def test_bad_database_url_is_one_clear_line() -> None:
    res = run("serve", "--port", "0", "--database-url",
              "postgresql://lore:hunter2secret@127.0.0.1:1/lore")
    assert res.returncode != 0
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: cannot connect to postgresql://lore:***@127.0.0.1:1/lore")
    assert "hunter2secret" not in res.stderr + res.stdout
    assert "Traceback" not in res.stderr
    res = run("migrate", "--database-url", "mysql://x@y/z")
    assert res.returncode != 0 and res.stderr.startswith("error: unsupported database URL")


def test_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = run("serve", "--port", "0", "--data-dir", str(blocker / "data"))
    assert res.returncode != 0
    assert res.stderr.startswith(f"error: data dir {blocker / 'data'} is not writable")
    assert "Traceback" not in res.stderr


def test_user_admin_commands_and_env_vars(tmp_path: Path) -> None:
    env = {"LORE_SERVER_DATA_DIR": str(tmp_path / "d")}
    from lorecloud.backends.sqlite import MIGRATIONS

    assert run("migrate", env=env).stdout.strip() == f"schema at version {len(MIGRATIONS)}"
    assert run("migrate", env=env).stdout.strip() == f"schema at version {len(MIGRATIONS)}"
    res = run("user", "add", "Ops@Example.com", "--plan", "free", env=env)
    assert res.returncode != 0 and "LORE_PASSWORD" in res.stderr  # no TTY, no variable
    assert run("user", "add", "ops@example.com", "--password-stdin", input=PASSWORD + "\n",
               env=env).returncode == 0
    assert run("user", "add", "dev@example.com", "--plan", "pro",
               env={**env, "LORE_PASSWORD": PASSWORD}).returncode == 0
    res = run("user", "add", "dev@example.com", "--password-stdin", input=PASSWORD + "\n",
              env=env)
    assert res.returncode != 0 and "already exists" in res.stderr
    users = json.loads(run("user", "list", "--json", env=env).stdout)
    assert [(u["email"], u["plan"]) for u in users] == [("dev@example.com", "pro"),
                                                       ("ops@example.com", "free")]
    assert run("user", "remove", "ops@example.com", env=env).returncode == 0
    res = run("user", "remove", "ops@example.com", env=env)
    assert res.returncode != 0 and res.stderr.startswith("error: no account")
    assert [u["email"] for u in json.loads(run("user", "list", "--json", env=env).stdout)] == [
        "dev@example.com"]


def test_sigterm_shuts_down_cleanly_and_data_survives(tmp_path: Path) -> None:
    srv: ServerProc = start_server(tmp_path)
    srv.add_user("dev@example.com", PASSWORD)
    api = Api.login(srv.url, "dev@example.com", "a")
    assert api.push([frame("t:kept", [b"x"])])[0]["status"] == "ok"
    assert srv.stop() == 0
    assert '"shutting down"' in srv.logs()
    again = start_server(tmp_path)
    try:
        b = Api.login(again.url, "dev@example.com", "b")
        assert [e["session_id"] for e in b.feed()[0]] == ["t:kept"]
    finally:
        again.stop()


def test_acknowledged_pushes_survive_kill_9(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    srv.add_user("dev@example.com", PASSWORD)
    api = Api.login(srv.url, "dev@example.com", "a")
    acked = [api.push([frame(f"t:{i}", [os.urandom(5000)])])[0]["seq"] for i in range(5)]
    srv.kill()  # no shutdown at all: what was acknowledged must already be on disk
    again = start_server(tmp_path)
    try:
        b = Api.login(again.url, "dev@example.com", "b")
        assert [e["seq"] for e in b.feed()[0]] == acked
    finally:
        again.stop()
