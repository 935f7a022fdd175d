"""Shared body of the recording fakes of systemctl / launchctl / loginctl.

Each call appends ``{"argv": [...]}`` as one JSON line to ``$FAKEBIN_LOG`` and prints a
canned answer. ``FAKEBIN_FAIL=<word>`` makes any call whose argv contains that word
exit 1 (to test error paths); ``FAKEBIN_NO_BUS=1`` makes every systemctl call fail as
on a machine without a user manager. The fakes keep a tiny state file next to the log so that
`status` reflects an earlier `enable --now` / `bootstrap`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(name: str) -> int:
    argv = sys.argv[1:]
    log = Path(os.environ.get("FAKEBIN_LOG", "/dev/null"))
    if log.name != "null":
        with log.open("a") as fh:
            fh.write(json.dumps({"argv": [name, *argv]}) + "\n")
    fail = os.environ.get("FAKEBIN_FAIL")
    if fail and fail in argv:
        print(f"{name}: simulated failure", file=sys.stderr)
        return 1
    if name == "systemctl" and os.environ.get("FAKEBIN_NO_BUS"):
        # a container or an ssh session without a user manager (no D-Bus user bus)
        print("Failed to connect to bus: No medium found", file=sys.stderr)
        return 1
    state = log.with_suffix(".state") if log.name != "null" else None
    active = bool(state and state.exists())
    if name == "systemctl":
        if "enable" in argv and state:
            state.write_text("active")
        if "disable" in argv and state:
            state.unlink(missing_ok=True)
        if "show" in argv:
            print(f"ActiveState={'active' if active else 'inactive'}")
            print(f"SubState={'running' if active else 'dead'}")
            print(f"UnitFileState={'enabled' if active else 'disabled'}")
            print(f"MainPID={4242 if active else 0}")
    elif name == "launchctl":
        if "bootstrap" in argv and state:
            state.write_text("active")
        if "bootout" in argv:
            if not active:
                print("Boot-out failed: 3: No such process", file=sys.stderr)
                return 3
            if state:
                state.unlink(missing_ok=True)
        if "print" in argv:
            if not active:
                print("Could not find service", file=sys.stderr)
                return 113
            print("gui/501/org.lore.lored = {\n\tstate = running\n\tpid = 4343\n}")
    elif name == "loginctl" and "show-user" in argv:
        print(f"Linger={os.environ.get('FAKEBIN_LINGER', 'no')}")
    return 0
