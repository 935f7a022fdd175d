"""Machine names and the feed's ``remaining`` count (issue 16), told against every backend."""

from __future__ import annotations

import pytest

from lorecloud.errors import ServiceError
from lorecloud.machines import admin_list, rename
from lorecloud.service import SyncService
from tests.contract.helpers import PASSWORD, blob, machine, push_one

EMAIL = "dev@example.com"
OTHER = "other@example.com"


async def test_rename_touches_one_machine_of_one_account(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    await svc.register(OTHER, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    eve = await machine(svc, OTHER, "e")
    assert await rename(svc, a.account_id, "a", "  work laptop ") == {
        "id": "a", "name": "work laptop"}
    names = {m.machine_id: m.name for m in await svc.backend.machines(a.account_id)}
    assert names == {"a": "work laptop", "b": "name-b"}
    # another account's machine is not found from this account, and stays as it was
    with pytest.raises(ServiceError) as err:
        await rename(svc, a.account_id, "e", "stolen")
    assert err.value.status == 404
    assert [m.name for m in await svc.backend.machines(eve.account_id)] == ["name-e"]
    # the new name is what the admin listing and the next login's principal show
    listed = {(r["email"], r["machine_id"]): r["name"] for r in await admin_list(svc, None)}
    assert listed[(EMAIL, "a")] == "work laptop" and listed[(OTHER, "e")] == "name-e"
    assert (await svc.account(b))["machine"]["name"] == "name-b"


async def test_changes_count_what_remains_after_each_page(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    for i in range(7):
        await push_one(svc, a, f"t:{i}", 1, 0, [blob()])
    await push_one(svc, b, "t:own", 1, 0, [blob()])  # b's own push is not in b's feed
    seen, since, remaining = 0, 0, []
    while True:
        page = await svc.changes(b, since, 3)
        seen += len(page["changes"])
        remaining.append(page["remaining"])
        since = page["cursor"]
        if not page["more"]:
            break
    assert seen == 7 and remaining == [4, 1, 0]
    page = await svc.changes(a, 0, 500)  # a sees only b's session, all at once
    assert [c["session_id"] for c in page["changes"]] == ["t:own"]
    assert page["remaining"] == 0 and page["more"] is False
