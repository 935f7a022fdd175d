"""Secrets in transcripts: detection (``detect``), redaction (``redact``), rules (``policy``).

A pure room: no I/O, no store, no network. ``sync`` redacts what it pushes with it,
``api`` uses it for share links, ``lorectl secrets`` and the local archive.
"""
