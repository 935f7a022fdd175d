"""The facade: the only door of ``lorectl`` (and the daemon) into Lore's machinery.

``lorectl`` imports from ``lored`` only this package, :mod:`lored.config`,
:mod:`lored.errors` and the IPC protocol types (an import-linter contract keeps it so).
The names below are the public surface; value types are re-exported for rendering.

They are loaded on first use (PEP 562): ``lorectl mcp`` handing its stdio to lored's
warm standby needs none of the engine, and a command pays only for what it touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lored.api.core import (
        ProgressFn,
        SecretKind,
        SecretProvider,
        corrupt_store_error,
        load_creds_or_none,
    )
    from lored.api.facade import Lore
    from lored.api.mcp import mcp_config, serve_mcp
    from lored.capture.backlog import BacklogFailed
    from lored.crypto.kdf import MIN_PASSPHRASE_LEN
    from lored.model import Message
    from lored.store.rows import SessionRow

#: public name -> the module that defines it
_HOMES = {
    "ProgressFn": "lored.api.core", "SecretKind": "lored.api.core",
    "SecretProvider": "lored.api.core", "corrupt_store_error": "lored.api.core",
    "load_creds_or_none": "lored.api.core", "Lore": "lored.api.facade",
    "mcp_config": "lored.api.mcp", "serve_mcp": "lored.api.mcp",
    "MIN_PASSPHRASE_LEN": "lored.crypto.kdf", "Message": "lored.model",
    "SessionRow": "lored.store.rows", "BacklogFailed": "lored.capture.backlog",
}

__all__ = ["MIN_PASSPHRASE_LEN", "BacklogFailed", "Lore", "Message", "ProgressFn", "SecretKind",
           "SecretProvider", "SessionRow", "corrupt_store_error", "load_creds_or_none",
           "mcp_config", "serve_mcp"]


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'lored.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
