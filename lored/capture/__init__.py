"""Capture: one module per AI coding tool, turning its files into sessions.

Public API (import the submodules; this package imports nothing, to stay light):

- ``registry.parse_payload(tool, payload)`` -> ``ParsedSession``: re-parse any payload
  (used after a pull); ``registry.PARSERS`` maps tool -> pure parser.
- ``importer.import_all(store, settings, *, tool=None, env=None, only=None)`` ->
  ``ImportReport`` (``to_json()`` is CLI.md's import object).
- ``watcher.CaptureWatcher(store_or_facade, settings, on_change=…)`` with async
  ``start()`` / ``stop()`` / ``import_now()``.
- ``projects.project_key(git_remote, project_path)``: one key per project across machines.

Parsers (``claude``, ``codex``, ``gemini``, ``aider``, ``opencode``) are pure: payload
bytes in, ``ParsedSession`` out, never raising on bad input. Everything that reads the
tools' folders lives in ``sources``, ``opencode_io``, ``discovery`` and ``importer``.
"""
