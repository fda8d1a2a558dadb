"""Reads for the health check: is the database's schema up to date?"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def database_migrations_pending() -> bool:
    """Whether the database lacks tables or columns the code expects (``manage.py migrate`` not run)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
