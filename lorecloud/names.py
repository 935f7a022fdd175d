"""Machine names: what may be stored, and how same-named machines are told apart.

Pure functions shared by the service (AccountDoc machines carry a ``label``), the
machine API and admin CLI (:mod:`lorecloud.machines`) and the dashboard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Final

from lorecloud.errors import bad_request
from loreproto import wire

#: the longest machine name kept (longer names are cut)
MAX_NAME: Final = 64
#: characters of the machine id shown after a name other machines share
ID_FRAGMENT: Final = 6


def clean_name(name: object) -> str:
    """A storable machine name: NFC text without control characters, 1..64 characters."""
    if not isinstance(name, str):
        raise bad_request("name must be a string")
    cleaned = wire.clean_text(name, MAX_NAME * 4).strip()[:MAX_NAME].strip()
    if not cleaned:
        raise bad_request("name must not be empty")
    return cleaned


def labels(machines: Iterable[tuple[str, str]]) -> dict[str, str]:
    """machine id -> what to show: its name, plus an id fragment when the name is shared."""
    pairs = list(machines)
    seen = Counter(name for _, name in pairs)
    return {mid: f"{name} ({mid[:ID_FRAGMENT]})" if seen[name] > 1 else name
            for mid, name in pairs}
