"""The sessions list: filters, sort orders and keyset cursors parsed from the URL.

Pure (no I/O): handlers turn the query string into a :class:`Listing`, the queries
module turns that into SQL, and the page links are built back from it. Pagination is
keyset, not OFFSET: a cursor holds the sort value and session id of the row at a page
edge, so page 5,000 costs the same index seek as page 1.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final
from urllib.parse import urlencode

from loreproto import wire

PAGE_SIZE: Final = 50

#: URL sort key -> (column in the dashboard's row shape, is it text?)
SORTS: Final[dict[str, tuple[str, bool]]] = {
    "started": ("started_at", True),
    "ended": ("ended_at", True),
    "size": ("payload_bytes", False),
    "messages": ("message_count", False),
}
DEFAULT_SORT: Final = "started"
DEFAULT_ORDER: Final = "desc"
_MAX_FILTER = 512
#: the last day whose "day after" is still a date (until=9999-12-31 used to overflow)
_LAST_DAY: Final = dt.date.max - dt.timedelta(days=1)


class ListingError(ValueError):
    """A query parameter no page can be built from (-> 400, with this message).

    Merely unknown or malformed values still fall back to the defaults; this is for
    values that would otherwise reach the database and fail there.
    """


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the list to; empty strings mean "any"."""

    tool: str = ""
    project: str = ""
    machine: str = ""
    since: str = ""  # YYYY-MM-DD, inclusive, on started_at (UTC)
    until: str = ""  # YYYY-MM-DD, inclusive, on started_at (UTC)

    def active(self) -> bool:
        """Whether any filter is set."""
        return any((self.tool, self.project, self.machine, self.since, self.until))

    def since_bound(self) -> str | None:
        """Lower bound for started_at (ISO text compares in time order when all UTC)."""
        return f"{self.since}T00:00:00" if self.since else None

    def until_bound(self) -> str | None:
        """Exclusive upper bound for started_at: the day after ``until``."""
        if not self.until:
            return None
        day = dt.date.fromisoformat(self.until) + dt.timedelta(days=1)
        return f"{day.isoformat()}T00:00:00"


@dataclass(frozen=True)
class Cursor:
    """A page edge: the sort value and session id of one row."""

    value: str | int
    session_id: str

    def encode(self) -> str:
        """URL-safe text form."""
        raw = json.dumps([self.value, self.session_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, is_text: bool) -> Cursor | None:
        """Parse a cursor; None for anything malformed (the list then starts over).

        Raises :class:`ListingError` for a cursor that decodes but no database could
        compare with (deep nesting, an integer past 64 bits, unstorable text).
        """
        if not text or len(text) > 2048:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
        try:
            doc = wire.loads_json(raw, "the page cursor")
        except wire.WireError as exc:
            if str(exc).endswith("is not JSON"):
                return None
            raise ListingError(str(exc)) from None
        try:
            value, sid = doc
        except (ValueError, TypeError):
            return None
        if not isinstance(sid, str):
            return None
        if is_text and isinstance(value, str):
            return cls(value, sid)
        if not is_text and isinstance(value, int) and not isinstance(value, bool):
            return cls(value, sid)
        return None


@dataclass(frozen=True)
class Listing:
    """One page request: filters, sort, direction and the page edge to start from."""

    filters: Filters = Filters()
    sort: str = DEFAULT_SORT
    order: str = DEFAULT_ORDER
    after: Cursor | None = None  # rows strictly after this edge, in display order
    before: Cursor | None = None  # rows strictly before this edge (the "previous" link)
    limit: int = PAGE_SIZE

    @property
    def column(self) -> str:
        """The row column being sorted on."""
        return SORTS[self.sort][0]

    @property
    def is_text(self) -> bool:
        """Whether the sort column holds text (times) rather than integers."""
        return SORTS[self.sort][1]

    def query(self, **changes: str) -> str:
        """The ``/sessions`` URL for this listing's filters and sort, plus ``changes``."""
        params: dict[str, str] = {
            "tool": self.filters.tool,
            "project": self.filters.project,
            "machine": self.filters.machine,
            "since": self.filters.since,
            "until": self.filters.until,
            "sort": self.sort,
            "order": self.order,
        }
        params.update(changes)
        kept = {k: v for k, v in params.items() if v}
        return "/sessions?" + urlencode(kept) if kept else "/sessions"

    def first_page(self) -> Listing:
        """The same listing without a page edge."""
        return replace(self, after=None, before=None)


def _clean(value: str) -> str:
    if not wire.is_storable_text(value):
        raise ListingError("a filter holds a NUL or text that is not valid Unicode")
    return value.strip()[:_MAX_FILTER]


def _date(value: str) -> str:
    value = value.strip()
    try:
        day = dt.date.fromisoformat(value) if value else None
    except ValueError:
        return ""  # an unparseable date is ignored rather than failing the page
    if day is not None and day > _LAST_DAY:
        raise ListingError(f"dates must be on or before {_LAST_DAY.isoformat()}")
    return day.isoformat() if day else ""


def parse_listing(query: Mapping[str, str], limit: int = PAGE_SIZE) -> Listing:
    """Build a :class:`Listing` from a request's query string; bad values fall back.

    Raises :class:`ListingError` for the few values that cannot fall back safely.
    """
    sort = query.get("sort", DEFAULT_SORT)
    if sort not in SORTS:
        sort = DEFAULT_SORT
    order = query.get("order", DEFAULT_ORDER)
    if order not in ("asc", "desc"):
        order = DEFAULT_ORDER
    filters = Filters(
        tool=_clean(query.get("tool", "")),
        project=_clean(query.get("project", "")),
        machine=_clean(query.get("machine", "")),
        since=_date(query.get("since", "")),
        until=_date(query.get("until", "")),
    )
    is_text = SORTS[sort][1]
    after = Cursor.decode(query.get("after", ""), is_text)
    before = None if after else Cursor.decode(query.get("before", ""), is_text)
    return Listing(filters, sort, order, after, before, limit)


def edge_value(row: Mapping[str, object], listing: Listing) -> str | int:
    """The keyset value of ``row`` for this sort (NULL times sort as the empty string).

    Rows from the database carry ``sort_value``, computed by the very SQL expression
    the page was ordered by, so the next page starts exactly where this one ended.
    """
    value = row.get("sort_value", row.get(listing.column))
    if listing.is_text:
        return value if isinstance(value, str) else ""
    return value if isinstance(value, int) else 0
