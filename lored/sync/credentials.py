"""The token file (``token.json``, 0600): server URL, bearer token, account id, email.

Kept apart from :mod:`lored.sync.http` so reading it does not import aiohttp (``lorectl
status`` start-up time).
"""

from __future__ import annotations

import json

from lored.config import Paths, write_secret
from lored.errors import NotLoggedIn
from lored.sync.remote import Credentials


def save_credentials(paths: Paths, creds: Credentials) -> None:
    """Write token.json atomically with mode 0600."""
    doc = {"server": creds.server_url, "token": creds.token, "account_id": creds.account_id,
           "email": creds.email}
    write_secret(paths.token_file, json.dumps(doc).encode())


def load_credentials(paths: Paths) -> Credentials | None:
    """The stored login, or None when this machine is not logged in."""
    try:
        doc = json.loads(paths.token_file.read_bytes())
        return Credentials(str(doc["server"]), str(doc["token"]), str(doc["account_id"]),
                           str(doc["email"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise NotLoggedIn(f"the login file {paths.token_file} is damaged") from None


def delete_credentials(paths: Paths) -> bool:
    """Remove token.json; True when there was one."""
    try:
        paths.token_file.unlink()
    except FileNotFoundError:
        return False
    return True
