"""Daemon logging (lored/logging.py): JSON lines, no traceback locals, secrets masked."""

from __future__ import annotations

import io
import json
import logging

import structlog

from lored.logging import configure_logging, cycle_fields


def _lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_json_lines_without_locals_and_with_masked_secrets() -> None:
    buf = io.StringIO()
    configure_logging("info", stream=buf)  # StringIO is not a TTY → JSON
    try:
        log = structlog.get_logger("lored.test")
        log.info("cycle", pushed=2, passphrase="hunter2-secret")
        hunter = "hunter2-local-secret"
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        assert hunter
        logging.getLogger("aiohttp.server").warning("stdlib %s", "too")
        lines = _lines(buf)
        assert lines[0]["event"] == "cycle" and lines[0]["pushed"] == 2
        assert lines[0]["passphrase"] == "***"
        assert lines[1]["exception"][0]["exc_type"] == "ValueError"
        assert lines[2]["event"] == "stdlib too" and lines[2]["level"] == "warning"
        assert "hunter2" not in buf.getvalue()
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()


def test_cycle_fields_counts_only() -> None:
    result = {
        "pull": {"pulled": 1, "sessions": ["a"], "bytes_downloaded": 10, "failed": []},
        "push": {"pushed": 2, "sessions": ["b", "c"], "bytes_uploaded": 20,
                 "skipped": [{"session_id": "d"}]},
    }
    assert cycle_fields(result) == {
        "pulled": 1, "pull_failed": 0, "bytes_down": 10,
        "pushed": 2, "push_skipped": 1, "bytes_up": 20,
    }
    assert cycle_fields({"pushed": 3, "bytes_uploaded": 5})["pushed"] == 3
    assert cycle_fields(None) == {}
