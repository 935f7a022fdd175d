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
