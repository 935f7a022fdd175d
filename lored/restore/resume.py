"""How each tool resumes a session (pure): the program, its arguments, what to install.

``lorectl resume`` restores the session if needed and then replaces itself with the
tool's own resume command in the project's checkout, so the terminal belongs to the
tool. The commands are the tools' documented ones:

- Claude Code: ``claude --resume <sessionId>``;
- Codex CLI: ``codex resume <id>``;
- Gemini CLI: ``gemini --resume <sessionId>`` (the full session UUID);
- OpenCode: ``opencode --session <ses_…>``;
- Aider: ``aider --restore-chat-history`` (it reads ``.aider.chat.history.md`` in the
  checkout; Aider has no per-session id).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from lored.restore.paths import RestoreError

#: tool -> (argv template, what to install when the program is missing)
_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "claude-code": (("claude", "--resume", "{id}"),
                    "install Claude Code (npm install -g @anthropic-ai/claude-code)"),
    "codex": (("codex", "resume", "{id}"), "install the Codex CLI (npm install -g @openai/codex)"),
    "gemini": (("gemini", "--resume", "{id}"),
               "install Gemini CLI (npm install -g @google/gemini-cli)"),
    "opencode": (("opencode", "--session", "{id}"),
                 "install OpenCode (npm install -g opencode-ai)"),
    "aider": (("aider", "--restore-chat-history"),
              "install Aider (python -m pip install aider-install && aider-install)"),
}

#: tools whose sessions can be restored and resumed
SUPPORTED = tuple(_COMMANDS)


def resume_command(tool: str, resume_id: str) -> list[str]:
    """The argv that resumes ``resume_id`` in ``tool`` (run it in the project folder)."""
    template, _ = _COMMANDS[tool]
    return [part.replace("{id}", resume_id) for part in template]


def find_program(tool: str, argv: list[str], env: Mapping[str, str] | None = None) -> str:
    """The full path of ``argv[0]`` on PATH, or RestoreError saying what to install."""
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    found = shutil.which(argv[0], path=path)
    if found is None:
        _, install = _COMMANDS[tool]
        raise RestoreError(f"`{argv[0]}` is not installed on this machine (not on PATH)",
                           hint=f"{install}, then run the command again; the session is "
                                "already restored")
    return found
