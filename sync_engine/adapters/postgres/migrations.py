"""Numbered schema migrations: ``sql/migrations/NNNN_name.sql``, applied in order.

Each pending migration runs in its own transaction together with its ``schema_migrations``
row, under a transaction-level advisory lock: processes migrating one database at once
apply every migration exactly once, and a migrated database is left untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from sync_engine.adapters.postgres.connection import redact_conninfo, translate_errors
from sync_engine.adapters.postgres.queries import queries

__all__ = ["Migration", "available_migrations", "migrate"]

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<slug>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # the file name without ``.sql``, e.g. ``0001_initial``
    sql: str


def available_migrations() -> list[Migration]:
    """The migrations shipped with the package, by version.

    Raises:
        ValueError: two files share a version number.
    """
    folder = resources.files(__package__).joinpath("sql", "migrations")
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match["version"])
        if version in found:
            raise ValueError(f"two migrations numbered {version:04d}: {entry.name}")
        name = entry.name.removesuffix(".sql")
        found[version] = Migration(version, name, entry.read_text("utf-8"))
    return [found[version] for version in sorted(found)]


def migrate(conninfo_or_connection: str | psycopg.Connection[Any]) -> list[str]:
    """Apply the pending migrations; return the names of those this call applied.

    A connection passed in must not be inside a transaction; it is left open.

    Raises:
        StoreUnavailableError: the database cannot be reached.
        StoreError: a migration failed (that migration is rolled back entirely).
    """
    if isinstance(conninfo_or_connection, str):
        conninfo = conninfo_or_connection
        with (
            translate_errors(redact_conninfo(conninfo)),
            psycopg.connect(conninfo, connect_timeout=10) as connection,
        ):
            return _migrate(connection)
    connection = conninfo_or_connection
    with translate_errors(redact_conninfo(connection.info.dsn)):
        return _migrate(connection)


def _migrate(connection: psycopg.Connection[Any]) -> list[str]:
    """Each migration in a transaction of its own, the whole run under one lock: two
    processes starting at once do not share out the migrations between them."""
    sql = queries()
    if _all_applied(connection):
        return []
    with connection.transaction():
        connection.execute(sql["lock_migration_run"])
    try:
        return _apply_pending(connection)
    finally:
        if not connection.closed and not connection.broken:
            with connection.transaction():
                connection.execute(sql["unlock_migration_run"])


def _all_applied(connection: psycopg.Connection[Any]) -> bool:
    """Whether every migration is applied already (one query: what every command finds)."""
    try:
        with connection.transaction():
            rows = connection.execute(queries()["applied_migrations"]).fetchall()
    except psycopg.errors.UndefinedTable:
        return False
    done = {row[0] for row in rows}
    return all(migration.version in done for migration in available_migrations())


def _apply_pending(connection: psycopg.Connection[Any]) -> list[str]:
    sql = queries()
    applied: list[str] = []
    for migration in available_migrations():
        with connection.transaction():
            connection.execute(sql["lock_migrations"])
            connection.execute(sql["create_schema_migrations"])
            done = {row[0] for row in connection.execute(sql["applied_migrations"])}
            if migration.version in done:
                continue
            connection.execute(migration.sql)
            connection.execute(
                sql["record_migration"], {"version": migration.version, "name": migration.name}
            )
        applied.append(migration.name)
    return applied
