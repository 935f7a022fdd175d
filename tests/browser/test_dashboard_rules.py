"""Pure rules of the dashboard (no browser, no server): cursors, filters, cookies."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from lorecloud.dashboard import listing, security
from lorecloud.dashboard.render import human_size, percent, when


def test_cursor_round_trip_and_garbage() -> None:
    cur = listing.Cursor("2025-06-14T10:00:00+00:00", "claude-code:abc")
    assert listing.Cursor.decode(cur.encode(), is_text=True) == cur
    num = listing.Cursor(1234, "codex:x")
    assert listing.Cursor.decode(num.encode(), is_text=False) == num
    # a cursor of the wrong kind, or garbage, restarts the list instead of failing
    assert listing.Cursor.decode(num.encode(), is_text=True) is None
    assert listing.Cursor.decode("!!!", is_text=True) is None
    assert listing.Cursor.decode("W10", is_text=True) is None  # "[]"
    assert listing.Cursor.decode("x" * 5000, is_text=True) is None


def test_parse_listing_falls_back_on_bad_values() -> None:
    got = listing.parse_listing(
        {"sort": "evil; drop", "order": "sideways", "since": "2025-13-45", "tool": " codex "}
    )
    assert (got.sort, got.order) == (listing.DEFAULT_SORT, listing.DEFAULT_ORDER)
    assert got.filters.since == "" and got.filters.tool == "codex"
    ranged = listing.parse_listing({"since": "2025-06-01", "until": "2025-06-30"})
    assert ranged.filters.since_bound() == "2025-06-01T00:00:00"
    assert ranged.filters.until_bound() == "2025-07-01T00:00:00"


def test_listing_urls_keep_filters_and_drop_cursor_on_first_page() -> None:
    cur = listing.Cursor(10, "s")
    lst = listing.Listing(listing.Filters(tool="codex"), "size", "asc", after=cur)
    assert lst.first_page().after is None
    url = lst.query(after=cur.encode())
    assert url.startswith("/sessions?") and "tool=codex" in url and "sort=size" in url


def test_cookie_secure_only_over_https() -> None:
    plain = make_mocked_request("GET", "/login")
    assert not security.is_https(plain)
    assert security.cookie_name(plain, "lore_session") == "lore_session"
    proxied = make_mocked_request("GET", "/login", headers={"X-Forwarded-Proto": "https"})
    assert security.is_https(proxied)
    assert security.cookie_name(proxied, "lore_session") == "__Host-lore_session"
    fwd = make_mocked_request("GET", "/", headers={"Forwarded": 'for=1.2.3.4;proto="https"'})
    assert security.is_https(fwd)


def test_csrf_is_bound_to_the_session_token() -> None:
    a, b = security.new_token(), security.new_token()
    assert security.csrf_matches(security.csrf_for(a), security.csrf_for(a))
    assert not security.csrf_matches(security.csrf_for(a), security.csrf_for(b))
    assert not security.csrf_matches(security.csrf_for(a), None)
    assert not security.csrf_matches(security.csrf_for(a), "")
    assert security.token_hash(a) != a and len(security.token_hash(a)) == 64


def test_display_helpers() -> None:
    assert human_size(999) == "999 B"
    assert human_size(1_200_000) == "1.2 MB"
    assert when("2025-06-14T10:02:11Z") == "2025-06-14 10:02 UTC"
    assert when("2025-06-14T12:02:11+02:00") == "2025-06-14 10:02 UTC"
    assert when(None, "never") == "never"
    assert percent(50, 200) == 25 and percent(500, 100) == 100 and percent(5, None) == 0
