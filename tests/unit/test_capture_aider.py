"""Aider: sections of one history file become sessions; ids stable; discovery by roots."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from lored.capture import aider
from lored.capture.importer import import_all
from lored.config import Settings
from lored.model import Message, ParsedSession
from lored.store import Store

FIX = Path(__file__).parents[1] / "fixtures/aider/home/dev/projects/webapp"
HISTORY = (FIX / ".aider.chat.history.md").read_bytes()
INPUTS = (FIX / ".aider.input.history").read_bytes()
ROOT = "/home/dev/projects/webapp"


def render(history: bytes = HISTORY, inputs: bytes | None = INPUTS) -> list[bytes]:
    return aider.render_payloads(history, project_path=ROOT, history_file=f"{ROOT}/h.md",
                                 input_history=inputs, utc_offset=lambda _: 7200)


def test_fixture_two_sessions() -> None:
    first, second = (aider.parse(p) for p in render())
    assert first.tool == "aider" and first.session_id.startswith("aider:")
    assert first.session_id != second.session_id and len(first.native_id) == 20
    assert first.project_path == ROOT
    assert first.started_at == "2025-06-14T12:05:31.000Z"  # 14:05:31 at UTC+2
    assert first.ended_at == "2025-06-14T12:07:40.000Z"
    assert first.model == "anthropic/claude-sonnet-4-20250514"
    assert first.tool_version == "0.84.0"
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "tool", "user",
                                               "user", "assistant", "tool"]
    assert "Added app/api/users.py to the chat." in first.messages[0].text
    user = first.messages[1]
    assert user.text == "Reject requests where `limit` is above 100 with a 422 error."
    assert user.timestamp == "2025-06-14T12:06:02.000Z"
    answer = first.messages[2].text
    assert answer.startswith("FastAPI can enforce this") and ">>>>>>> REPLACE\n```" in answer
    assert first.messages[3].text.endswith("Commit 1a2b3c4 feat: Validate limit query "
                                           "parameter range")
    assert second.messages[-1].text == "/exit" and second.started_at == "2025-06-15T07:40:02.000Z"
    assert first.bad_records == 0 and second.bad_records == 0


def test_payload_is_header_plus_exact_section() -> None:
    payloads = render()
    sections = [p.split(b"\n", 1)[1] for p in payloads]
    assert HISTORY.endswith(b"".join(sections))
    header = json.loads(payloads[0].split(b"\n", 1)[0])
    assert header["format"] == "lore-aider-v1" and header["project_path"] == ROOT


def test_id_stable_when_session_grows_and_inputs_change() -> None:
    before = [aider.parse(p).session_id for p in render()]
    grown = HISTORY + b"\n#### and the docs?  \n\nSure.\n"
    after = [aider.parse(p) for p in render(grown, None)]
    assert [s.session_id for s in after] == before
    assert [m.text for m in after[1].messages][-2:] == ["and the docs?", "Sure."]


def test_multiline_prompt_fences_and_invalid_utf8() -> None:
    section = (
        b"# aider chat started at 2025-01-01 10:00:00\n\n"
        b"#### first line  \n#### second line  \n\n"
        b"Here:\n\n```md\n#### not a prompt\n> not status\n```\n\nDone \xff.\n"
        b"> Applied edit to README.md  \n"
    )
    s = aider.parse(section, source_hint="/r/.aider.chat.history.md")
    assert [m.role for m in s.messages] == ["user", "assistant", "tool"]
    assert s.messages[0].text == "first line\nsecond line"
    assert "#### not a prompt\n> not status" in s.messages[1].text
    assert s.messages[1].text.endswith("Done \ufffd.")
    assert s.started_at == "2025-01-01T10:00:00.000Z" and s.project_path is None
    assert any("UTF-8" in w for w in s.warnings)


def test_hostile_payloads_do_not_raise() -> None:
    for payload in (b"", b"\xff\xfe", b'{"format":"lore-aider-v1"\n# aider chat started at x',
                    b'{"format":"lore-aider-v1","utc_offset":"x","inputs":[1,[2]]}\n'
                    b"# aider chat started at 2025-13-45 99:99:99\n#### hi\n",
                    b"#### " * 1000):
        s = aider.parse(payload)
        assert isinstance(s, ParsedSession)
    huge = render()[1] + b"A" * 50_000_000 + b"\n#### after\n"
    s = aider.parse(huge)
    assert s.messages[-1] == Message("user", None, "after")


async def test_import_from_configured_root(tmp_path: Path, store: Store,
                                           settings: Settings) -> None:
    root = tmp_path / "webapp"
    shutil.copytree(FIX, root)
    cfg = replace(settings, aider_roots=(str(root),))
    report = await import_all(store, cfg, tool="aider")
    assert report.to_json() == {"imported": 2, "updated": 0, "unchanged": 0, "errors": []}
    assert {r.project_path for r in await store.list_sessions()} == {str(root)}
    assert (await import_all(store, cfg, tool="aider")).unchanged == 2
    with (root / ".aider.chat.history.md").open("ab") as fh:
        fh.write(b"\n#### one more  \n\nOK.\n")
    grown = await import_all(store, cfg, tool="aider")
    assert (grown.imported, grown.updated, grown.unchanged) == (0, 1, 1)


async def test_roots_from_known_project_paths(tmp_path: Path, store: Store,
                                              settings: Settings) -> None:
    root = tmp_path / "webapp"
    shutil.copytree(FIX, root)
    other = ParsedSession("claude-code:x", "claude-code", "x", str(root), None, None)
    await store.save_capture(other, b"x", None, settings.machine_id)
    report = await import_all(store, settings, tool="aider")
    assert report.imported == 2


def _section(body: str) -> bytes:
    return ("# aider chat started at 2025-06-14 14:05:31\n\n" + body).encode()


def test_multi_line_tool_report_is_one_tool_message() -> None:
    """'> ' on the first line only, two spaces on the last (aider/io.py)."""
    from lored.capture import aider

    s = aider.parse(_section(
        "#### fix the parser  \n\n"
        "> The LLM did not conform to the edit format.\n"
        "app.py\n"
        "<<<<<<< SEARCH\n"
        ">>>>>>> REPLACE\n"
        "Only 3 reflections allowed, stopping.  \n\n"
        "Sorry, here is the fixed edit.\n"))
    assert [m.role for m in s.messages] == ["user", "tool", "assistant"]
    assert s.messages[1].text.endswith("Only 3 reflections allowed, stopping.")
    assert ">>>>>>> REPLACE" in s.messages[1].text
    assert s.messages[2].text == "Sorry, here is the fixed edit."


def test_multi_line_prompt_keeps_its_indentation() -> None:
    from lored.capture import aider

    s = aider.parse(_section("#### make this a loop:  \n####     for x in xs:  \n"
                             "####         print(x)  \n\nDone.\n"))
    assert s.messages[0].text == "make this a loop:\n    for x in xs:\n        print(x)"
    assert [m.role for m in s.messages] == ["user", "assistant"]
