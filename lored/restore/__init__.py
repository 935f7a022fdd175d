"""Restore: put a pulled session back where its tool looks, paths remapped.

``paths`` maps the project to this machine, ``rewrite`` moves paths inside transcripts,
``place`` writes the file where each tool looks."""
