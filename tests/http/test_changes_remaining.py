"""GET /v1/changes says how many entries are left after a page (a pull's real total)."""

from __future__ import annotations

from pathlib import Path

from tests.http.client import PASSWORD, Api, frame
from tests.serverproc import start_server


def test_remaining_counts_what_follows_the_page(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        srv.add_user("a@example.com", PASSWORD)
        writer = Api.login(srv.url, "a@example.com", "writer")
        reader = Api.login(srv.url, "a@example.com", "reader")
        writer.push([frame(f"t:s{n}", [b"chunk"]) for n in range(5)])
        reader.push([frame("t:own", [b"chunk"])])  # the reader's own: not in its feed
        status, doc, _ = reader.call("GET", "/v1/changes?since=0&limit=2")
        assert status == 200 and len(doc["changes"]) == 2 and doc["more"] is True
        assert doc["remaining"] == 3
        status, doc, _ = reader.call("GET", f"/v1/changes?since={doc['cursor']}&limit=2")
        assert doc["remaining"] == 1
        status, doc, _ = reader.call("GET", f"/v1/changes?since={doc['cursor']}&limit=2")
        assert len(doc["changes"]) == 1 and doc["more"] is False and doc["remaining"] == 0
    finally:
        srv.stop()
