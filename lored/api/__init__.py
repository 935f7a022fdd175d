"""The facade: the only door of ``lorectl`` (and the daemon) into Lore's machinery.

``lorectl`` imports from ``lored`` only this package, :mod:`lored.config`,
:mod:`lored.errors` and the IPC protocol types (an import-linter contract keeps it so).
The names below are the public surface; value types are re-exported for rendering.
"""

from __future__ import annotations

from lored.api.core import (
    ProgressFn,
    SecretKind,
    SecretProvider,
    corrupt_store_error,
    load_creds_or_none,
)
from lored.api.facade import Lore
from lored.api.mcp import mcp_config, serve_mcp
from lored.crypto.kdf import MIN_PASSPHRASE_LEN
from lored.model import Message
from lored.store.rows import SessionRow

__all__ = ["MIN_PASSPHRASE_LEN", "Lore", "Message", "ProgressFn", "SecretKind",
           "SecretProvider", "SessionRow", "corrupt_store_error", "load_creds_or_none",
           "mcp_config", "serve_mcp"]
