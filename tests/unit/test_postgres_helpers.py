"""The PostgreSQL adapter's pure helpers: the named-query loader, the password-free
connection string and task id prefixes (no server needed)."""

from __future__ import annotations

import pytest

from sync_engine.adapters.postgres.connection import redact_conninfo
from sync_engine.adapters.postgres.migrations import available_migrations
from sync_engine.adapters.postgres.queries import parse_queries, queries
from sync_engine.adapters.postgres.store import _id_range


def test_parse_queries_drops_comment_lines() -> None:
    text = """
-- a file comment
-- name: first
-- what it does, with a 100% literal percent sign that must not reach psycopg
SELECT 1;

-- name: second
SELECT %(x)s
  -- an indented comment
  FROM t;
"""
    assert parse_queries(text) == {"first": "SELECT 1;", "second": "SELECT %(x)s\n  FROM t;"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1;", "before the first"),
        ("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;", "defined twice"),
        ("-- name: a\n-- nothing\n", "empty queries: a"),
    ],
)
def test_parse_queries_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queries(text)


def test_the_shipped_queries_and_migrations_load() -> None:
    assert {"write_plan", "copy_tasks", "list_tasks", "set_engine_origin"} <= set(queries())
    migrations = available_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))


@pytest.mark.parametrize(
    ("conninfo", "shown"),
    [
        (
            "postgresql://me:s3cret@db.example:5433/plans?sslmode=require&password=s3cret",
            "postgresql://me@db.example:5433/plans?sslmode=require",
        ),
        (
            "host=db port=5433 user=me password=s3cret dbname=plans",
            "user=me dbname=plans host=db port=5433",
        ),
        ("postgresql:///plans", "postgresql:///plans"),
    ],
)
def test_redact_conninfo(conninfo: str, shown: str) -> None:
    assert redact_conninfo(conninfo) == shown


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("AB", ("ab000000-0000-0000-0000-000000000000", "abffffff-ffff-ffff-ffff-ffffffffffff")),
        (
            "abcdef01-00",
            ("abcdef01-0000-0000-0000-000000000000", "abcdef01-00ff-ffff-ffff-ffffffffffff"),
        ),
        (
            "abcdef0100",
            ("abcdef01-0000-0000-0000-000000000000", "abcdef01-00ff-ffff-ffff-ffffffffffff"),
        ),
        ("ab-cd", None),
        ("task-7", None),
        ("abcdef01-0000-4000-8000-0000000000011", None),
    ],
)
def test_id_range(reference: str, expected: tuple[str, str] | None) -> None:
    assert _id_range(reference) == expected
