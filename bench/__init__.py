"""Lore's benchmark harness (`make bench`): corpus generator, anchors and scenarios P1–P8.

See ``bench/README.md`` and ``../shared/design/PERFORMANCE.md``. Nothing here is imported
by the product; the harness drives Lore through its real commands and processes.
"""
