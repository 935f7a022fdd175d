"""The in-process Remote: the engine talking straight to the real server's SyncService.

No sockets and no HTTP, but the same rules, backend and error documents as Lore Cloud
(``lorecloud.service.SyncService`` on SQLite). Tests may import both sides; ``lored``
itself never imports ``lorecloud`` (import-linter contract).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from lorecloud.errors import ServiceError
from lorecloud.service import SyncService
from lored.sync.http import HttpRemote, error_from_document
from lored.sync.remote import ChangesPage, ChunkRef, Credentials, FetchedChunk
from loreproto import wire
from tests.serverproc import make_service, start_server
from tests.sync.conftest import Cloud

T = TypeVar("T")
URL = "inprocess://lore-cloud"


class InProcessRemote:
    """:class:`lored.sync.remote.Remote` over a :class:`SyncService` in this process."""

    def __init__(self, svc: SyncService) -> None:
        self.svc = svc
        self._token: str | None = None
        self.calls: dict[str, int] = {}

    async def _do(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            return await fn()
        except ServiceError as err:
            raise error_from_document(err.status, err.body(), URL) from None

    async def _principal(self) -> Any:
        return await self.svc.authenticate(self._token or "")

    async def register(self, email: str, password: str) -> dict[str, Any]:
        """SyncService.register."""
        return await self._do("register", lambda: self.svc.register(email, password))

    async def login(self, email: str, password: str, machine_id: str, machine_name: str
                    ) -> Credentials:
        """SyncService.login; keeps the token."""
        doc = await self._do("login", lambda: self.svc.login(email, password, machine_id,
                                                             machine_name))
        self._token = doc["token"]
        return Credentials(URL, doc["token"], doc["account_id"], doc["email"])

    async def rename_machine(self, name: str) -> dict[str, Any]:
        """lorecloud.machines.rename of the calling machine."""
        from lorecloud.machines import rename

        async def go() -> dict[str, Any]:
            who = await self._principal()
            return await rename(self.svc, who.account_id, who.machine_id, name)

        return await self._do("rename_machine", go)

    async def logout(self) -> None:
        """SyncService.logout."""
        await self._do("logout", lambda: self.svc.logout(self._token or ""))

    async def account(self) -> dict[str, Any]:
        """SyncService.account."""
        async def go() -> dict[str, Any]:
            return await self.svc.account(await self._principal())
        return await self._do("account", go)

    async def get_envelope(self) -> tuple[dict[str, Any] | None, int]:
        """SyncService.get_envelope."""
        async def go() -> dict[str, Any]:
            return await self.svc.get_envelope(await self._principal())
        doc = await self._do("get_envelope", go)
        return doc["envelope"], int(doc["version"])

    async def put_envelope(self, envelope: dict[str, Any], expected_version: int) -> int:
        """SyncService.put_envelope."""
        async def go() -> dict[str, Any]:
            return await self.svc.put_envelope(await self._principal(), envelope,
                                               expected_version)
        return int((await self._do("put_envelope", go))["version"])

    async def push(self, sessions: Sequence[tuple[wire.PushHeader, list[bytes]]]
                   ) -> list[dict[str, Any]]:
        """SyncService.push, after the same header validation the HTTP route applies."""
        checked = [(wire.PushHeader.from_json(h.to_json()), parts) for h, parts in sessions]

        async def go() -> list[dict[str, Any]]:
            return await self.svc.push(await self._principal(), checked)
        return await self._do("push", go)

    async def changes(self, since: int, limit: int) -> ChangesPage:
        """SyncService.changes."""
        async def go() -> dict[str, Any]:
            return await self.svc.changes(await self._principal(), since, limit)
        doc = await self._do("changes", go)
        return ChangesPage(doc["changes"], int(doc["cursor"]), bool(doc["more"]))

    async def fetch_chunks(self, refs: Sequence[ChunkRef]) -> list[FetchedChunk]:
        """SyncService.fetch_chunks."""
        async def go() -> list[tuple[str, int, int, bytes | None]]:
            return await self.svc.fetch_chunks(await self._principal(), list(refs))
        return [FetchedChunk(s, g, i, d) for s, g, i, d in await self._do("fetch_chunks", go)]

    async def delete_session(self, session_id: str) -> int:
        """SyncService.delete_session."""
        async def go() -> dict[str, Any]:
            return await self.svc.delete_session(await self._principal(), session_id)
        return int((await self._do("delete_session", go))["seq"])

    async def reset_account(self, email: str) -> dict[str, Any]:
        """SyncService.reset_account."""
        async def go() -> dict[str, Any]:
            return await self.svc.reset_account(await self._principal(), email)
        return await self._do("reset_account", go)

    async def close(self) -> None:
        """Nothing to release (the service belongs to the fixture)."""


@asynccontextmanager
async def inprocess_cloud(tmp: Path, **config: Any) -> AsyncIterator[Cloud]:
    """A Cloud whose machines talk to one in-process SyncService."""
    svc = await make_service(tmp, **config)

    async def add_user(email: str, password: str) -> Any:
        return await svc.add_user(email, password, "pro")

    try:
        yield Cloud("inprocess", tmp, lambda: InProcessRemote(svc), add_user, URL, svc)
    finally:
        await svc.close()


@asynccontextmanager
async def http_cloud(tmp: Path, **kw: Any) -> AsyncIterator[Cloud]:
    """A Cloud whose machines use HttpRemote against a real lore-server subprocess."""
    srv = start_server(tmp, **kw)

    async def add_user(email: str, password: str) -> None:
        srv.add_user(email, password, "pro")

    try:
        yield Cloud("http", tmp, lambda: HttpRemote(srv.url, attempts=2, backoff=0.01),
                    add_user, srv.url, srv)
    finally:
        srv.stop()


def b64(data: bytes) -> str:
    """Standard base64 (for tampering with change entries in tests)."""
    return base64.b64encode(data).decode()
