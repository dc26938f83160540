"""What every PostgreSQL adapter shares: a printable connection string and the mapping of
driver errors onto sync-engine's ``StoreError`` tree."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg import conninfo as libpq_conninfo

from sync_engine.errors import StoreError, StoreUnavailableError

__all__ = ["redact_conninfo", "translate_errors"]

# SQLSTATE classes meaning "the server or the connection is gone", not "the query is wrong":
# 08 connection exception, 57P0x the server is shutting down or not accepting connections.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def redact_conninfo(conninfo: str) -> str:
    """The connection string (URL or ``key=value`` form) without its password."""
    if "://" in conninfo:
        parts = urlsplit(conninfo)
        host = parts.netloc.rpartition("@")[2]
        user = parts.username
        netloc = f"{user}@{host}" if user else host
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
        return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    try:
        params = libpq_conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<unparsable connection string>"
    params.pop("password", None)
    return libpq_conninfo.make_conninfo("", **params)


@contextlib.contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Raise driver errors as ``StoreUnavailableError`` (server gone) or ``StoreError``.

    ``where`` names the database in messages; it must not hold a password.
    """
    try:
        yield
    except psycopg.Error as error:
        state = error.sqlstate or ""
        message = str(error).strip() or type(error).__name__
        if isinstance(error, psycopg.OperationalError) and (
            not state or state.startswith(_UNAVAILABLE_STATES)
        ):
            raise StoreUnavailableError(f"cannot reach PostgreSQL at {where}: {message}") from error
        raise StoreError(f"PostgreSQL at {where} refused: {message}") from error
