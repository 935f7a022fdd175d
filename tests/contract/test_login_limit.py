"""The failed-login limit holds for guesses sent in parallel, not only one by one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lorecloud.errors import ServiceError
from tests.serverproc import make_service


async def test_parallel_guesses_are_rate_limited(tmp_path: Path) -> None:
    svc = await make_service(tmp_path)
    try:
        await svc.add_user("a@x.io", "right-password-1", "pro")

        async def guess(i: int) -> int:
            try:
                await svc.check_password("a@x.io", f"wrong-{i}", "1.2.3.4")
            except ServiceError as exc:
                return exc.status
            return 200

        statuses = await asyncio.gather(*(guess(i) for i in range(40)))
        limit = svc.config.login_failures
        assert statuses.count(401) == limit
        assert statuses.count(429) == 40 - limit
        # another address is not punished for this one's guesses
        account = await svc.check_password("a@x.io", "right-password-1", "5.6.7.8")
        assert account.email == "a@x.io"
    finally:
        await svc.close()
