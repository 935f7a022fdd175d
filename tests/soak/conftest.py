"""PostgreSQL fixtures for the soak suite."""

from tests.pgserver import pg_cluster, pg_database  # noqa: F401  (fixtures)
