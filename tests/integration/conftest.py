"""One real embedded PostgreSQL for the session; a fresh database per test.

The schema is migrated once into ``sync_template``; each test gets a copy made with
``CREATE DATABASE … TEMPLATE sync_template`` (a file copy: fast, and fully isolated), dropped
when the test ends.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from sync_engine.adapters.postgres.embedded import EmbeddedPostgres
from sync_engine.adapters.postgres.migrations import migrate
from tests.conftest import SAMPLE_PLANS
from tests.integration.sample_root import Root

TEMPLATE = "sync_template"


def with_database(url: str, name: str) -> str:
    """``url`` pointing at the database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


class Databases:
    """Creates and drops databases on the session's server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create(self, template: str | None = TEMPLATE) -> str:
        name = f"test_{uuid.uuid4().hex[:16]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(statement)
        return with_database(self.url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as connection:
            statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(statement.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """The session's server (embedded, no idle stop) with the migrated template database."""
    state = tmp_path_factory.mktemp("postgres")
    server = EmbeddedPostgres(Path(state), idle_seconds=None)
    url = server.ensure_running()
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            template = sql.Identifier(TEMPLATE)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(template))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(template))
        migrate(with_database(url, TEMPLATE))
        yield Databases(url)
    finally:
        server.stop()
        shutil.rmtree(state / "pg", ignore_errors=True)  # ~45 MB; pg.log stays for debugging


@pytest.fixture
def database_url(postgres_databases: Databases) -> Iterator[str]:
    """A fresh, migrated database of its own for the test (a libpq URL)."""
    url = postgres_databases.create()
    yield url
    postgres_databases.drop(url)


@pytest.fixture
def empty_database_url(postgres_databases: Databases) -> Iterator[str]:
    """A fresh database without the schema."""
    url = postgres_databases.create(template=None)
    yield url
    postgres_databases.drop(url)


@pytest.fixture
def root(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> Root:
    """The sample plans copied and synced into a fresh database."""
    path = tmp_path / "plans"
    shutil.copytree(SAMPLE_PLANS, path, ignore=shutil.ignore_patterns(".sync-engine"))
    synced = Root(path, database_url, capsys)
    assert synced.ok("sync")["tasks_created"] == 246
    return synced
