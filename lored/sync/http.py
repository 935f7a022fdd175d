"""HttpRemote: the Lore Cloud client (aiohttp), and the token file.

Transport errors become LoreErrors here and nowhere else: connection failures →
ServerUnreachable, 401 → NotLoggedIn / MachineRevoked / AuthError, 429 → RateLimited,
503 → ServerBusy, other error documents → ServerError. Idempotent requests (every GET,
chunk fetches, pushes — a push is idempotent by protocol — and envelope creation, whose
repeat answers 409 with our own envelope) are retried with jittered exponential backoff
on connection errors and 502/504, and after the server's ``Retry-After`` on 503 (busy)
and 429 (this account has too much in flight): at most ``busy_attempts`` tries and
``retry_budget`` seconds of waiting, then one clear error carrying ``retry_after`` for
the daemon's scheduler. CHUNK responses are decoded while streaming with FrameReader.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import random
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from lored.errors import (
    AuthError,
    LoreError,
    MachineRevoked,
    NotLoggedIn,
    RateLimited,
    ServerBusy,
    ServerError,
    ServerUnreachable,
    UsageError,
)
from lored.sync.credentials import delete_credentials, load_credentials, save_credentials
from lored.sync.remote import ChangesPage, ChunkRef, Credentials, EnvelopeConflict, FetchedChunk
from loreproto import wire

__all__ = [
    "HttpRemote", "check_url", "delete_credentials", "error_from_document", "load_credentials",
    "save_credentials",
]

_RETRY_STATUS = frozenset({502, 503, 504})
#: answers that mean "come back later" and may carry Retry-After
_BUSY_STATUS = frozenset({429, 503})
#: the longest single wait a server's Retry-After can impose on one request
MAX_RETRY_AFTER = 60.0
_TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                     asyncio.TimeoutError, wire.WireError)


def check_url(url: str, *, insecure_http: bool = False) -> str:
    """Normalise a server URL; refuse plain http:// to non-loopback hosts (PROTOCOL/CLI)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not an http(s) URL",
                         hint="give the server as https://host[:port]")
    if parts.scheme == "http" and not insecure_http and not _loopback(parts.hostname):
        raise UsageError(
            f"refusing to talk to {parts.hostname} over plain http://",
            hint="use https://, or pass --insecure-http if you really mean it",
        )
    return url


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpRemote:
    """:class:`lored.sync.remote.Remote` over HTTP(S) to a Lore Cloud server."""

    def __init__(
        self,
        server_url: str,
        *,
        token: str | None = None,
        insecure_http: bool = False,
        attempts: int = 4,
        backoff: float = 0.25,
        busy_attempts: int = 6,
        retry_budget: float = 90.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.server_url = check_url(server_url, insecure_http=insecure_http)
        self._token = token
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._busy_attempts = max(1, busy_attempts)
        self._retry_budget = retry_budget
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout,
                                              sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None
        self.login_answer: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"HttpRemote({self.server_url!r})"

    @classmethod
    def from_credentials(cls, creds: Credentials, *, insecure_http: bool = False) -> HttpRemote:
        """A remote authenticated with a stored login."""
        return cls(creds.server_url, token=creds.token, insecure_http=insecure_http)

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=16),
                headers={"User-Agent": f"lorectl/wire-{wire.API_VERSION}"},
            )
        return self._session

    # --- the request loop ---------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
        auth: bool = True,
        retry: bool = True,
        reader: Any = None,
    ) -> Any:
        """One API call with retries; ``reader(response)`` consumes a binary answer."""
        headers: dict[str, str] = {}
        if auth:
            if not self._token:
                raise NotLoggedIn()
            headers["Authorization"] = f"Bearer {self._token}"
        if content_type:
            headers["Content-Type"] = content_type
        url = self.server_url + path
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._http().request(
                    method, url, json=json_body, data=data, params=params, headers=headers
                ) as resp:
                    if resp.status >= 400:
                        err = await _error_for(resp, self.server_url)
                        wait = self._wait_after(resp, attempt, started) if retry else None
                        if wait is None:
                            raise _gave_up(err, attempt, started) if attempt > 1 else err
                    elif reader is not None:
                        return await reader(resp)
                    else:
                        return await _json(resp)
            except _TRANSPORT_ERRORS as exc:
                if not retry or attempt >= self._attempts:
                    raise _unreachable(self.server_url, exc) from None
                wait = self._jitter(attempt)
            except aiohttp.ClientError as exc:
                raise _unreachable(self.server_url, exc) from None
            await asyncio.sleep(wait)

    def _jitter(self, attempt: int) -> float:
        """Full jitter: spread retries of many clients after a server restart."""
        return random.uniform(0, self._backoff * (2 ** (attempt - 1)))

    def _wait_after(self, resp: aiohttp.ClientResponse, attempt: int, started: float
                    ) -> float | None:
        """Seconds to wait before retrying this error answer, or None to give up now."""
        if resp.status not in _RETRY_STATUS | _BUSY_STATUS:
            return None
        limit = self._busy_attempts if resp.status in _BUSY_STATUS else self._attempts
        if attempt >= limit:
            return None
        asked = retry_after(resp.headers.get("Retry-After"))
        if asked is None:
            wait = self._jitter(attempt)
        elif asked > MAX_RETRY_AFTER:
            return None  # the server wants more than one request should sit waiting
        else:  # what the server asked, plus a little so clients do not come back at once
            wait = asked + random.uniform(0, min(1.0, 0.2 * asked + 0.1))
        if time.monotonic() - started + wait > self._retry_budget:
            return None
        return wait

    # --- account ----------------------------------------------------------------------
    async def register(self, email: str, password: str) -> dict[str, Any]:
        """POST /v1/register."""
        out: dict[str, Any] = await self._call(
            "POST", "/v1/register", json_body={"email": email, "password": password},
            auth=False, retry=False)
        return out

    async def login(
        self, email: str, password: str, machine_id: str, machine_name: str
    ) -> Credentials:
        """POST /v1/login; keeps the token for later calls."""
        doc = await self._call(
            "POST", "/v1/login", auth=False, retry=False,
            json_body={"email": email, "password": password, "machine_id": machine_id,
                       "machine_name": machine_name})
        try:
            creds = Credentials(self.server_url, str(doc["token"]), str(doc["account_id"]),
                                str(doc.get("email") or email))
        except (KeyError, TypeError):
            raise ServerError("Lore Cloud sent a malformed login answer") from None
        self._token = creds.token
        #: the rest of the answer: the machine's name and how many others share it
        self.login_answer = {"machine": doc.get("machine"), "same_name": doc.get("same_name")}
        return creds

    async def logout(self) -> None:
        """POST /v1/logout (revokes this token)."""
        await self._call("POST", "/v1/logout", json_body={})

    async def account(self) -> dict[str, Any]:
        """GET /v1/account."""
        return _obj(await self._call("GET", "/v1/account"))

    async def rename_machine(self, name: str) -> dict[str, Any]:
        """PUT /v1/machine -> {id, name}."""
        doc = _obj(await self._call("PUT", "/v1/machine", json_body={"name": name}))
        return _obj(doc.get("machine"))

    # --- share links (issue 18) --------------------------------------------------------
    async def create_share(self, share_id: str, session_id: str, sealed: bytes,
                           expires_in: int) -> dict[str, Any]:
        """POST /v1/shares -> {share_id, url, expires_at}."""
        return _obj(await self._call(
            "POST", "/v1/shares", data=sealed, content_type="application/octet-stream",
            params={"share_id": share_id, "session_id": session_id,
                    "expires_in": str(expires_in)}, retry=False))

    async def list_shares(self) -> list[dict[str, Any]]:
        """GET /v1/shares."""
        shares = _obj(await self._call("GET", "/v1/shares")).get("shares")
        return [s for s in shares if isinstance(s, dict)] if isinstance(shares, list) else []

    async def revoke_share(self, share_id: str) -> None:
        """DELETE /v1/shares/{id}."""
        await self._call("DELETE", "/v1/shares/" + quote(share_id, safe=""))

    async def get_envelope(self) -> tuple[dict[str, Any] | None, int]:
        """GET /v1/envelope."""
        doc = _obj(await self._call("GET", "/v1/envelope"))
        env = doc.get("envelope")
        return (env if isinstance(env, dict) else None), int(doc.get("version") or 0)

    async def put_envelope(self, envelope: dict[str, Any], expected_version: int) -> int:
        """PUT /v1/envelope (create-only or conditional update)."""
        doc = _obj(await self._call("PUT", "/v1/envelope", json_body={
            "envelope": envelope, "expected_version": expected_version}))
        return int(doc["version"])

    # --- sync -------------------------------------------------------------------------
    async def push(
        self, sessions: Sequence[tuple[wire.PushHeader, list[bytes]]]
    ) -> list[dict[str, Any]]:
        """POST /v1/push with one binary body for all sessions."""
        body = wire.encode_push(list(sessions))
        doc = _obj(await self._call("POST", "/v1/push", data=body,
                                    content_type=wire.PUSH_CONTENT_TYPE))
        results = doc.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise ServerError("Lore Cloud sent a malformed push answer")
        return results

    async def changes(self, since: int, limit: int) -> ChangesPage:
        """GET /v1/changes."""
        doc = _obj(await self._call("GET", "/v1/changes",
                                    params={"since": str(since), "limit": str(limit)}))
        changes = doc.get("changes")
        if not isinstance(changes, list):
            raise ServerError("Lore Cloud sent a malformed change feed")
        left = doc.get("remaining")
        return ChangesPage(changes, int(doc.get("cursor") or since), bool(doc.get("more")),
                           left if isinstance(left, int) and left >= 0 else None)

    async def fetch_chunks(self, refs: Sequence[ChunkRef]) -> list[FetchedChunk]:
        """POST /v1/chunks; the CHUNK answer is decoded as it streams in."""
        wanted = {(s, g, i) for s, g, i in refs}
        limit = len(refs) * (wire.MAX_SEALED_CHUNK_BYTES + wire.MAX_HEADER_BYTES) + 64

        async def read(resp: aiohttp.ClientResponse) -> list[FetchedChunk]:
            reader = wire.FrameReader(wire.CHUNK_MAGIC, "chunk")
            out: list[FetchedChunk] = []
            total = 0
            async for piece in resp.content.iter_chunked(256 * 1024):
                total += len(piece)
                if total > limit:
                    raise ServerError("Lore Cloud sent more chunk data than was asked for")
                reader.feed(piece)
                for header, parts in reader.frames():
                    out.append(_fetched(header, parts, wanted))
            if not reader.finished:
                raise wire.WireError("chunk answer is truncated")
            return out

        body = {"chunks": [{"session_id": s, "generation": g, "index": i} for s, g, i in refs]}
        result: list[FetchedChunk] = await self._call("POST", "/v1/chunks", json_body=body,
                                                      reader=read)
        return result

    async def delete_session(self, session_id: str) -> int:
        """DELETE /v1/sessions/{id}."""
        from urllib.parse import quote

        doc = _obj(await self._call("DELETE", f"/v1/sessions/{quote(session_id, safe='')}"))
        return int(doc.get("seq") or 0)

    async def reset_account(self, email: str) -> dict[str, Any]:
        """POST /v1/account/reset (never retried: the caller decides to erase)."""
        return _obj(await self._call("POST", "/v1/account/reset", json_body={"email": email},
                                     retry=False))


def _fetched(header: dict[str, Any], parts: list[bytes], wanted: set[ChunkRef]) -> FetchedChunk:
    ref = (header.get("session_id"), header.get("generation"), header.get("index"))
    if ref not in wanted:
        raise ServerError("Lore Cloud sent a chunk that was not asked for")
    sid, gen, idx = ref
    assert isinstance(sid, str) and isinstance(gen, int) and isinstance(idx, int)
    ok = header.get("status") == "ok"
    return FetchedChunk(sid, gen, idx, (parts[0] if parts else b"") if ok else None)


async def _json(resp: aiohttp.ClientResponse) -> Any:
    """A success answer's JSON; a body that is not JSON is a ServerError, not a traceback."""
    try:
        return await resp.json(content_type=None)
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        raise ServerError("Lore Cloud sent a malformed answer (not JSON)",
                          hint="a proxy in between may be misbehaving; try again later"
                          ) from None


def _obj(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ServerError("Lore Cloud sent a malformed answer")
    return doc


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), 86400.0))


def _gave_up(err: LoreError, attempts: int, started: float) -> LoreError:
    """``err`` after retrying: the message says how long we kept trying."""
    if isinstance(err, ServerBusy | RateLimited):
        err.message = (f"{err.message} (still after {attempts} attempts over "
                       f"{time.monotonic() - started:.0f} s)")
        err.args = (err.message,)
    return err


def _unreachable(url: str, exc: BaseException) -> LoreError:
    return ServerUnreachable(f"cannot reach Lore Cloud at {url} ({_why(exc)})")


def _why(exc: BaseException) -> str:
    """A short reason for a transport failure (no tracebacks, no reprs)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_err = exc.os_error
        if isinstance(os_err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(os_err, OSError) and os_err.strerror:
            return os_err.strerror.lower()
        return "cannot connect"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError | wire.WireError):
        return "the answer was cut short or malformed"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return text or type(exc).__name__


async def _error_for(resp: aiohttp.ClientResponse, url: str) -> LoreError:
    """The LoreError for an error answer (its JSON error document when there is one)."""
    try:
        doc = await resp.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        doc = None
    return error_from_document(resp.status, doc, url,
                               retry_after=retry_after(resp.headers.get("Retry-After")))


def error_from_document(status: int, doc: Any, url: str, *,
                        retry_after: float | None = None) -> LoreError:
    """Map a wire error document (``{"error": {code, message, hint, …}}``) to a LoreError.

    Shared by HttpRemote and in-process remotes so both raise the same errors.
    """
    err = doc.get("error") if isinstance(doc, dict) else None
    err = err if isinstance(err, dict) else {}
    code = str(err.get("code") or "")
    message = str(err.get("message") or f"HTTP {status}")[:500]
    hint = err.get("hint") if isinstance(err.get("hint"), str) else None
    if code == wire.E_REVOKED:
        return MachineRevoked("this machine was signed out of Lore Cloud")
    if code == wire.E_BAD_CREDENTIALS:
        return AuthError("wrong email or password", hint="check them and run `lorectl login` again")
    if status == 401:
        return NotLoggedIn("Lore Cloud does not accept this machine's login",
                           hint="run `lorectl login` again")
    if status == 429 or code == wire.E_RATE_LIMITED:
        return RateLimited(f"Lore Cloud: {message}", hint=hint, retry_after=retry_after)
    if status == 503:
        return ServerBusy(f"Lore Cloud at {url} is busy: {message}", retry_after=retry_after)
    if code == wire.E_CONFLICT and isinstance(err.get("current"), dict):
        cur = err["current"]
        env = cur.get("envelope")
        return EnvelopeConflict(env if isinstance(env, dict) else None,
                                int(cur.get("version") or 0))
    if code == wire.E_REGISTRATION_CLOSED:
        return AuthError("this Lore Cloud server does not allow registration",
                         hint="ask its operator to run `lore-server user add EMAIL`")
    if code == wire.E_CONFLICT:
        return AuthError(f"Lore Cloud: {message}", hint=hint)
    if status >= 500:
        return ServerError(f"Lore Cloud at {url} failed: {message}", hint=hint)
    return ServerError(f"Lore Cloud refused the request: {message}", hint=hint)
