"""The dashboard's read queries (and its sign-in table), per SQL dialect.

Each function returns ``(sql, params)`` for a backend's generic ``fetch_all`` /
``execute`` (see :class:`SqlBackend`). Sort and filter expressions come from
:mod:`.schema`, so they match the expression indexes exactly. Keyset pages compare
the row value ``(sort expression, session_id)`` with the cursor: both SQLite and
PostgreSQL turn that into one index range scan, at any depth.
"""

from __future__ import annotations

from typing import Any, Protocol

from lorecloud.backends.dashboard_schema import LIVE_S, POSTGRES_EXPR, SQLITE_EXPR
from lorecloud.dashboard.listing import Filters, Listing

Query = tuple[str, list[Any]]


class SqlBackend(Protocol):
    """The generic statement methods both backends provide for the dashboard."""

    dialect: str

    async def fetch_all(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Rows of a read-only query, as dicts keyed by column name."""
        ...

    async def execute(self, sql: str, params: list[Any]) -> int:
        """One write statement in its own transaction -> rows affected."""
        ...


class _Params:
    """Placeholders in the dialect's style (``?`` or ``$n``) and their values."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return "?" if self.dialect == "sqlite" else f"${len(self.values)}"


def _expr(dialect: str) -> dict[str, str]:
    return SQLITE_EXPR if dialect == "sqlite" else POSTGRES_EXPR


def _where(dialect: str, p: _Params, account_id: str, filters: Filters) -> list[str]:
    expr = _expr(dialect)
    where = [f"s.account_id = {p(account_id)}", LIVE_S[dialect]]
    if filters.tool:
        where.append(f"{expr['tool']} = {p(filters.tool)}")
    if filters.project:
        # substring match without LIKE, so '%' and '_' in a path are plain characters
        find = "instr" if dialect == "sqlite" else "strpos"
        where.append(f"{find}(lower({expr['project']}), lower({p(filters.project)})) > 0")
    if filters.machine:
        where.append(f"s.origin_machine_id = {p(filters.machine)}")
    if filters.since_bound():
        where.append(f"{expr['started']} >= {p(filters.since_bound())}")
    if filters.until_bound():
        where.append(f"{expr['started']} < {p(filters.until_bound())}")
    return where


def list_sessions(dialect: str, account_id: str, listing: Listing) -> Query:
    """One keyset page (``limit + 1`` rows). With ``before`` the rows come back in
    reverse display order; the caller flips them."""
    p = _Params(dialect)
    key = _expr(dialect)[listing.sort]
    where = _where(dialect, p, account_id, listing.filters)
    descending = listing.order == "desc"
    if listing.before is not None:
        descending = not descending  # walk backwards from the page's first row
    edge = listing.after or listing.before
    if edge is not None:
        op = "<" if descending else ">"
        where.append(f"({key}, s.session_id) {op} ({p(edge.value)}, {p(edge.session_id)})")
    direction = "DESC" if descending else "ASC"
    sql = (
        "SELECT s.session_id, s.origin_machine_id, COALESCE(m.name, '') AS machine_name, "
        "s.meta, s.stored_bytes, s.chunk_count, s.generation, s.updated_at, "
        f"{key} AS sort_value "
        "FROM sessions s LEFT JOIN machines m "
        "ON m.account_id = s.account_id AND m.machine_id = s.origin_machine_id "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY {key} {direction}, s.session_id {direction} LIMIT {p(listing.limit + 1)}"
    )
    return sql, p.values


def count_sessions(dialect: str, account_id: str, filters: Filters) -> Query:
    """How many live sessions match (column ``n``)."""
    p = _Params(dialect)
    where = _where(dialect, p, account_id, filters)
    return f"SELECT COUNT(*) AS n FROM sessions s WHERE {' AND '.join(where)}", p.values


def tools(dialect: str, account_id: str) -> Query:
    """Distinct tools of live sessions (column ``tool``), from the covering index."""
    p = _Params(dialect)
    tool = _expr(dialect)["tool"]
    return (
        f"SELECT DISTINCT {tool} AS tool FROM sessions s "
        f"WHERE s.account_id = {p(account_id)} AND {LIVE_S[dialect]} ORDER BY 1",
        p.values,
    )


def storage_by_tool(dialect: str, account_id: str) -> Query:
    """Per tool: ``tool``, ``sessions``, ``stored_bytes`` of live sessions, largest first."""
    p = _Params(dialect)
    tool = _expr(dialect)["tool"]
    return (
        f"SELECT {tool} AS tool, COUNT(*) AS sessions, "
        "COALESCE(SUM(s.stored_bytes), 0) AS stored_bytes FROM sessions s "
        f"WHERE s.account_id = {p(account_id)} AND {LIVE_S[dialect]} "
        f"GROUP BY {tool} ORDER BY 3 DESC, 1",
        p.values,
    )


# --- dashboard sign-ins (table web_sessions) ----------------------------------------------


def open_web_session(
    dialect: str, token_hash: str, account_id: str, now: str, expires: str
) -> Query:
    """Remember one sign-in."""
    p = _Params(dialect)
    sql = (
        "INSERT INTO web_sessions (token_hash, account_id, created_at, expires_at) "
        f"VALUES ({p(token_hash)}, {p(account_id)}, {p(now)}, {p(expires)})"
    )
    return sql, p.values


def purge_web_sessions(dialect: str, now: str) -> Query:
    """Forget every expired sign-in (run on each new sign-in; cheap with few rows)."""
    p = _Params(dialect)
    return f"DELETE FROM web_sessions WHERE expires_at <= {p(now)}", p.values


def web_session(dialect: str, token_hash: str, now: str) -> Query:
    """The account (``account_id``, ``email``) of an unexpired sign-in."""
    p = _Params(dialect)
    sql = (
        "SELECT w.account_id, a.email FROM web_sessions w "
        "JOIN accounts a ON a.account_id = w.account_id "
        f"WHERE w.token_hash = {p(token_hash)} AND w.expires_at > {p(now)}"
    )
    return sql, p.values


def close_web_session(dialect: str, token_hash: str) -> Query:
    """Forget one sign-in."""
    p = _Params(dialect)
    return f"DELETE FROM web_sessions WHERE token_hash = {p(token_hash)}", p.values


def close_other_web_sessions(dialect: str, account_id: str, keep_hash: str) -> Query:
    """Sign out every other browser of the account (after a password change)."""
    p = _Params(dialect)
    sql = (
        f"DELETE FROM web_sessions WHERE account_id = {p(account_id)} "
        f"AND token_hash != {p(keep_hash)}"
    )
    return sql, p.values
