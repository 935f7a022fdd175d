"""`lorectl mcp`: a read-only Model Context Protocol server over the local archive."""
