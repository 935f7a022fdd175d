"""Fixtures of the HTTP tests: a real lore-server subprocess, PostgreSQL when needed."""

from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)
from tests.serverproc import lore_server  # noqa: F401  (fixture)
