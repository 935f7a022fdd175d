"""lored, the daemon: entry point (main), composition root (core), scheduler,
single-flight cycles, sd_notify (notify) and the Unix-socket API (ipc/)."""
