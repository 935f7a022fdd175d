"""loreproto: the wire contract shared by lored and lorecloud; imports neither."""
