"""Secret detection and redaction: every planted kind found, transcript noise not,
tags deterministic and keyed, JSON lines valid, growth by lines stays an append."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid

import pytest

from lored.secrets.detect import build_detector
from lored.secrets.policy import Policy
from lored.secrets.redact import Redactor, redaction_key, scan


def _rand(alphabet: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


AN = string.ascii_letters + string.digits
UP = string.ascii_uppercase + string.digits


def planted() -> dict[str, str]:
    """One fake secret of every kind, assembled at run time (no literal tokens in git)."""
    pem_body = "\n".join(_rand(AN + "+/", 64, i) for i in range(3))
    return {
        "aws-access-key": "AK" + "IA" + _rand(UP, 16, 1),
        "aws-secret-key": "aws_secret_access_key = " + _rand(AN + "/+", 40, 2),
        "github-token": "gh" + "p_" + _rand(AN, 36, 3),
        "gitlab-token": "gl" + "pat-" + _rand(AN, 20, 4),
        "slack-token": "xo" + "xb-" + "1234567890-" + _rand(AN, 24, 5),
        "stripe-key": "sk" + "_live_" + _rand(AN, 24, 6),
        "openai-key": "sk-" + "proj-" + _rand(AN, 48, 7),
        "anthropic-key": "sk-" + "ant-api03-" + _rand(AN + "_-", 90, 8),
        "google-api-key": "AI" + "za" + _rand(AN + "_-", 35, 9),
        "private-key": "-----BEGIN RSA PRIVATE KEY-----\n" + pem_body
                       + "\n-----END RSA PRIVATE KEY-----",
        "jwt": "ey" + "J" + _rand(AN, 20, 10) + ".eyJ" + _rand(AN, 30, 11) + "."
               + _rand(AN + "_-", 43, 12),
        "url-password": "postgres://app:" + _rand(AN, 16, 13) + "@db.internal:5432/app",
        "env-secret": "DATABASE_PASSWORD=" + _rand(AN, 20, 14),
    }


def noise() -> list[str]:
    """What transcripts are full of and must not be redacted."""
    png = base64.b64encode(bytes(random.Random(1).randrange(256) for _ in range(3000))).decode()
    return [
        *(str(uuid.UUID(int=random.Random(i).getrandbits(128))) for i in range(20)),
        *(hashlib.sha1(str(i).encode()).hexdigest() for i in range(20)),
        *(hashlib.sha256(str(i).encode()).hexdigest() for i in range(20)),
        "data:image/png;base64," + png,
        "integrity sha512-" + base64.b64encode(hashlib.sha512(b"x").digest()).decode(),
        'resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#679591c564c3bffaae"',
        "pkg = { version = \"1.0\", hash = \"sha256:" + hashlib.sha256(b"y").hexdigest() + "\" }",
        "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f Merge branch 'main'",
        "NODE_ENV=production", "PORT=8080", "API_KEY=${API_KEY}", "TOKEN=<your-token>",
        "https://user@github.com/org/repo.git", "postgres://localhost:5432/app",
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "sk-learn is not a key", "eyJhbGciOi is half a jwt",
    ]


def redactor(allow: tuple[str, ...] = ()) -> Redactor:
    return Policy("sync", allow).redactor(b"k" * 32)


@pytest.mark.parametrize("kind", sorted(planted()))
def test_every_planted_kind_is_found_in_a_json_line(kind: str) -> None:
    secret = planted()[kind]
    line = json.dumps({"type": "tool_result", "content": f"cat .env\n{secret}\ndone"}).encode()
    found = scan(build_detector(()), line)
    assert [k.kind for k in found] == [kind]
    out = redactor().redact(line)
    doc = json.loads(out)  # still valid JSON
    assert f"[REDACTED:{kind}:" in doc["content"]
    for piece in _cores(kind, secret):
        assert piece.encode() not in out


def _cores(kind: str, secret: str) -> list[str]:
    if kind == "url-password":
        core = secret.split(":")[2].split("@")[0]
    elif kind in ("env-secret", "aws-secret-key"):
        core = secret.split("=", 1)[1].strip()
    elif kind == "private-key":
        return [line for line in secret.split("\n") if "-----" not in line]
    else:
        core = secret
    return [core[4:20], core[-12:]]


@pytest.mark.parametrize("kind", sorted(planted()))
def test_every_planted_kind_is_found_in_plain_text(kind: str) -> None:
    secret = planted()[kind]
    out = redactor().redact(f"> {secret}\n".encode())
    assert f"[REDACTED:{kind}:".encode() in out
    for piece in _cores(kind, secret):
        assert piece.encode() not in out


def test_transcript_noise_is_not_redacted() -> None:
    text = "\n".join(noise()).encode()
    assert scan(build_detector(()), text) == []
    line = json.dumps({"content": "\n".join(noise())}).encode()
    assert redactor().redact(line) is line


def test_tags_are_deterministic_keyed_and_not_a_plain_hash() -> None:
    secret = planted()["github-token"]
    line = f"token {secret} and again {secret}".encode()
    a, b = redactor().redact(line), redactor().redact(line)
    assert a == b
    tags = a.decode().split()
    assert tags[1] == tags[4] and tags[1].startswith("[REDACTED:github-token:")
    other = Policy("sync").redactor(b"z" * 32).redact(line)
    assert other != a  # another key, another tag
    plain = {hashlib.sha256(secret.encode()).hexdigest()[:6],
             hashlib.blake2b(secret.encode()).hexdigest()[:6]}
    assert tags[1][-7:-1] not in plain
    assert redaction_key(b"k" * 32) != b"k" * 32


def test_allow_list_keeps_known_false_positives() -> None:
    secret = planted()["stripe-key"]
    assert redactor((r"^sk_live_",)).redact(secret.encode()) == secret.encode()
    assert redactor((r"^nothing$",)).redact(secret.encode()) != secret.encode()


def test_growth_by_lines_redacts_to_an_append() -> None:
    secrets = list(planted().values())
    lines = [json.dumps({"i": i, "text": f"step {i}: {secrets[i % len(secrets)]}"}).encode()
             + b"\n" for i in range(40)]
    r = redactor()
    before = b""
    for n in range(1, len(lines) + 1):
        now = r.for_push(b"".join(lines[:n]), "claude-code")
        assert now.startswith(before)
        before = now
    # a half-written trailing JSONL line is held back, never sent half-redacted
    partial = b"".join(lines[:3]) + lines[3][:30]
    assert r.for_push(partial, "claude-code") == r.redact(b"".join(lines[:3]))
    for raw in before.splitlines():
        json.loads(raw)


def test_json_escapes_are_never_broken() -> None:
    key = planted()["github-token"]
    for text in (f"\\{key}", f"\\\\{key}", f'"{key}"', f"\\n{key}\\n", f"a\\t{key}\\u0041"):
        line = json.dumps({"c": text}).encode()
        json.loads(redactor().redact(line))


def test_info_strings_are_redacted() -> None:
    key = planted()["openai-key"]
    out = redactor().redact_obj({"title": f"use {key}", "n": 3, "tags": [key]})
    assert key not in json.dumps(out) and out["n"] == 3


def test_redactor_repr_hides_the_key() -> None:
    assert "kkkk" not in repr(redactor())


def test_library_patterns_come_from_a_child_process_and_a_cache(tmp_path) -> None:
    """detect-secrets' plugins are read by a child (the daemon never holds its ~18 MB of
    imports) and cached per version; its kinds are then found like ours."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lored.secrets.detect import build_detector\n"
        f"d = build_detector((), cache_dir={str(tmp_path)!r})\n"
        "tok = (b'SG.' + b'a' * 4 + b'B1c2D3e4F5g6H7i8J9' + b'.' + b'k' * 20\n"
        "       + b'L0m1N2o3P4q5R6s7T8u9V0w')\n"
        "print(sorted({f.kind for f in d.findings(b'key ' + tok + b' end')}))\n"
        "print('detect_secrets' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "['sendgrid-api-key']", out
    assert out[1] == "False"
    cached = list(tmp_path.glob("secret-patterns-*.json"))
    assert len(cached) == 1 and "sendgrid" in cached[0].read_text()
