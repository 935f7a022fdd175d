"""The browser bundle's crypto reproduces the protocol's vectors (under node).

``web/test/*.test.mjs`` run with node's test runner against a node build of the same
sources the committed bundle is built from (``web/build.mjs --node``). Without node
(or ``npm ci`` not yet run) the test skips, unless ``LORE_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lored.crypto.recovery import encode_recovery
from lored.crypto.secret import SecretBytes

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
VECTORS = ROOT / "tests" / "fixtures" / "crypto-vectors.json"


def _need(reason: str) -> None:
    if os.environ.get("LORE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (LORE_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def test_js_crypto_reproduces_vectors(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        _need("node is not installed: apt-get install -y nodejs npm")
    if not (WEB / "node_modules" / "esbuild").exists():
        _need("web/node_modules missing: run `make web`")
    out = tmp_path / "lore-web-node.cjs"
    subprocess.run([node, "build.mjs", "--node", str(out)], cwd=WEB, check=True, timeout=120)
    dk = bytes.fromhex(json.loads(VECTORS.read_text())["data_key_hex"])
    env = {**os.environ, "LORE_WEB_NODE_BUILD": str(out),
           "LORE_RECOVERY_FORM": encode_recovery(SecretBytes(dk))}
    res = subprocess.run([node, "--test", "test/"], cwd=WEB, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "# fail 0" in res.stdout and "# pass 3" in res.stdout, res.stdout


FIXTURES = {
    "claude-code": ROOT / "tests/fixtures/claude/projects/-home-dev-projects-webapp/"
    "3f2b9c1e-7a4d-4e8b-9c2a-5d1e6f7a8b90.jsonl",
    "codex": ROOT / "tests/fixtures/codex/sessions/2025/06/14/"
    "rollout-2025-06-14T10-02-11-0197a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d.jsonl",
}


def _js_text(m: dict[str, object]) -> str:
    parts = m["parts"]
    assert isinstance(parts, list)
    kinds = ("tool_result",) if m["role"] == "tool" else ("text",)
    return "\n".join(p["text"] for p in parts if p["kind"] in kinds).strip()


@pytest.mark.parametrize("tool", sorted(FIXTURES))
def test_js_and_python_parsers_agree_on_fixtures(tool: str, tmp_path: Path) -> None:
    """The browser's parser and lored.capture read the same fixture to the same messages."""
    from lored.capture import claude, codex

    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "esbuild").exists():
        _need("node and web/node_modules are needed: run `make web`")
    out = tmp_path / "lore-web-node.cjs"
    subprocess.run([node, "build.mjs", "--node", str(out)], cwd=WEB, check=True, timeout=120)
    res = subprocess.run([node, "tools/parse-cli.cjs", str(out), tool, str(FIXTURES[tool])],
                         cwd=WEB, capture_output=True, text=True, timeout=120, check=True)
    js = [(m["role"], _js_text(m)) for m in json.loads(res.stdout)]
    parser = claude.parse if tool == "claude-code" else codex.parse
    py = [(m.role, m.text.strip()) for m in parser(FIXTURES[tool].read_bytes()).messages]
    js_nonempty = [x for x in js if x[1]]
    py_nonempty = [x for x in py if x[1]]
    assert js_nonempty == py_nonempty
