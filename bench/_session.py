"""One synthetic Claude Code session: records shaped exactly like the fixture's.

A session is a series of turns (user prompt → assistant text + tool_use → user
tool_result with ``toolUseResult`` → … → assistant answer) until the target size is
reached. Assistant messages use the newer one-block-per-line layout (several lines
sharing ``message.id``), so the parser's merge path is exercised too.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._text import Pools, SourceFile

_MODELS = ("claude-sonnet-4-20250514", "claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929")
_VERSIONS = ("1.0.98", "1.0.110", "2.0.14", "2.0.31")
_BRANCHES = ("main", "main", "feature/pagination", "fix/login-redirect", "chore/deps", "dev")
_EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def _dumps(obj: dict[str, Any]) -> bytes:
    # Claude Code writes compact JSON with raw UTF-8, one record per line
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _tag(rng: random.Random, n: int = 16) -> str:
    return "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", k=n))


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class _Writer:
    """Keeps the per-session envelope, the parent chain and the clock."""

    def __init__(self, rng: random.Random, cwd: str, sid: str) -> None:
        self.rng = rng
        self.base = {
            "isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": sid,
            "version": rng.choice(_VERSIONS), "gitBranch": rng.choice(_BRANCHES),
        }
        self.parent: str | None = None
        self.clock = _EPOCH + timedelta(seconds=rng.randrange(300 * 86400))
        self.model = rng.choice(_MODELS)
        self.lines: list[bytes] = []
        self.size = 0

    def emit(self, kind: str, message: dict[str, Any], **extra: Any) -> None:
        self.clock += timedelta(milliseconds=self.rng.randint(150, 20000))
        me = _uuid(self.rng)
        rec: dict[str, Any] = {"parentUuid": self.parent, **self.base, "type": kind}
        if kind == "assistant":
            rec["requestId"] = extra.pop("request_id")
        rec["message"] = message
        rec.update(extra)
        rec["uuid"] = me
        rec["timestamp"] = _ts(self.clock)
        self.parent = me
        line = _dumps(rec)
        self.lines.append(line)
        self.size += len(line)

    def assistant(self, blocks: list[dict[str, Any]], stop: str | None) -> None:
        """One streamed assistant message: one line per block, shared ``message.id``."""
        mid, req = f"msg_01{_tag(self.rng, 22)}", f"req_011C{_tag(self.rng, 18)}"
        usage = {
            "input_tokens": self.rng.randint(3, 12),
            "cache_creation_input_tokens": self.rng.randint(0, 4000),
            "cache_read_input_tokens": self.rng.randint(5000, 120000),
            "output_tokens": self.rng.randint(20, 2500), "service_tier": "standard",
        }
        for n, block in enumerate(blocks):
            self.emit("assistant", {
                "id": mid, "type": "message", "role": "assistant", "model": self.model,
                "content": [block], "stop_reason": stop if n == len(blocks) - 1 else None,
                "stop_sequence": None, "usage": usage,
            }, request_id=req)


def _numbered(text: str, start: int) -> str:
    return "".join(f"{n:>6}→{line}\n" for n, line in enumerate(text.splitlines(), start))


def _turn(w: _Writer, pools: Pools, cwd: str, files: list[SourceFile]) -> Iterator[None]:
    """Emit one turn, yielding after every record so the caller can stop on size."""
    rng = w.rng
    w.emit("user", {"role": "user", "content": " ".join(
        rng.choice(pools.paragraphs) for _ in range(rng.randint(1, 3)))})
    yield
    for _ in range(rng.randint(1, 4)):
        f = rng.choice(files)
        path = f"{cwd}/{f.rel_path}"
        tool = rng.choices(("Read", "Edit", "Bash"), weights=(5, 3, 2))[0]
        tid = f"toolu_01{_tag(rng, 22)}"
        if tool == "Read":
            tin: dict[str, Any] = {"file_path": path}
        elif tool == "Edit":
            old = rng.choice(f.text.split("\n\n")[:8] or [f.text])
            tin = {"file_path": path, "old_string": old,
                   "new_string": rng.choice(pools.snippets)[1]}
        else:
            tin = {"command": f"pytest -q tests/ -k {rng.choice(pools.snippets)[1][4:16]}",
                   "description": "Run the tests"}
        w.assistant([{"type": "text", "text": rng.choice(pools.paragraphs)},
                     {"type": "tool_use", "id": tid, "name": tool, "input": tin}], "tool_use")
        yield
        if tool == "Read":
            lines = f.text.splitlines()
            start = rng.randrange(max(1, len(lines) - 40)) + 1 if rng.random() < 0.3 else 1
            body = "\n".join(lines[start - 1:])
            content = _numbered(body, start)
            extra: dict[str, Any] = {"type": "text", "file": {
                "filePath": path, "content": body, "numLines": body.count("\n") + 1,
                "startLine": start, "totalLines": len(lines)}}
        elif tool == "Edit":
            content = f"The file {path} has been updated."
            extra = {"filePath": path, "oldString": tin["old_string"],
                     "newString": tin["new_string"], "originalFile": f.text,
                     "structuredPatch": [], "userModified": False, "replaceAll": False}
        else:
            content = "\n".join(rng.choices(pools.shell_lines, k=rng.randint(3, 60)))
            extra = {"stdout": content, "stderr": "", "interrupted": False, "isImage": False}
        w.emit("user", {"role": "user", "content": [
            {"tool_use_id": tid, "type": "tool_result", "content": content}]},
            toolUseResult=extra)
        yield
    lang, code = rng.choice(pools.snippets)
    w.assistant([{"type": "text", "text": f"{rng.choice(pools.paragraphs)}\n\n```{lang}\n"
                  f"{code}```\n\n{rng.choice(pools.paragraphs)}"}], "end_turn")
    yield


def session_lines(
    rng: random.Random, pools: Pools, cwd: str, index: int, target: int
) -> tuple[str, list[bytes]]:
    """The session id and JSONL lines of one session of about ``target`` bytes."""
    sid = _uuid(rng)
    w = _Writer(rng, cwd, sid)
    title = rng.choice(pools.paragraphs).split(".")[0][:80]
    # a summary line first, as Claude Code writes for resumed/compacted sessions
    if rng.random() < 0.5:
        w.lines.append(_dumps({"type": "summary", "summary": title, "leafUuid": _uuid(rng)}))
    # small sessions read small files, or one Read of a 24 KB file would overshoot them
    files = [f for f in pools.files if len(f.text) * 3 <= target] or [
        min(pools.files, key=lambda f: len(f.text))]
    # bounded: every record is longer than 100 bytes
    for _ in range(target // 100 + 1):
        if w.size >= target:
            break
        for _ in _turn(w, pools, cwd, files):
            if w.size >= target:
                break
    return sid, w.lines


def _last_record(path: Path) -> dict[str, Any]:
    """The last parseable record of ``path`` (reads only the file's tail)."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        end = fh.tell()
        fh.seek(max(0, end - (1 << 20)))
        tail = fh.read()
    for line in reversed(tail.splitlines()):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "sessionId" in rec:
            return rec
    raise ValueError(f"{path}: no record with a sessionId in the last MiB")


def append_record(rng: random.Random, path: Path, nbytes: int) -> bytes:
    """One valid user record continuing ``path``'s chain, exactly ``nbytes`` long."""
    last = _last_record(path)
    w = _Writer(rng, last["cwd"], last["sessionId"])
    for k in ("version", "gitBranch"):
        w.base[k] = last.get(k, w.base[k])
    w.parent = last.get("uuid")
    w.clock = datetime.fromisoformat(last["timestamp"].replace("Z", "+00:00"))
    w.emit("user", {"role": "user", "content": ""})
    pad = nbytes - len(w.lines[0])
    if pad < 0:
        raise ValueError(f"cannot append fewer than {len(w.lines[0])} bytes")
    words = []
    while sum(map(len, words)) + len(words) < pad + 20:
        words.append(rng.choice(("please", "also", "check", "the", "retry", "logic", "again")))
    text = " ".join(words)[:pad]
    line = w.lines[0].replace(b'"content":""', b'"content":"' + text.encode() + b'"', 1)
    assert len(line) == nbytes, (len(line), nbytes)
    return line
