"""Unix-socket JSON API of the daemon."""
