"""The scenarios P1–P8 of PERFORMANCE.md, one function per scenario returning table rows."""
