"""The named SQL queries of ``sql/queries.sql``.

A query starts at a ``-- name: <name>`` line; the comment lines right after it document the
query and are dropped with every other whole-line comment (psycopg would read a ``%`` in
them as a placeholder). Parameters are psycopg's named placeholders, ``%(name)s``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

__all__ = ["parse_queries", "queries"]

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$")


def parse_queries(text: str) -> dict[str, str]:
    """Query text by name.

    Raises:
        ValueError: text before the first name line, a repeated name or an empty query.
    """
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _NAME_LINE.match(line.strip())
        if match is not None:
            name = match["name"]
            if name in found:
                raise ValueError(f"line {number}: the query {name!r} is defined twice")
            current = found[name] = []
        elif line.strip().startswith("--") or not line.strip():
            continue
        elif current is None:
            raise ValueError(f"line {number}: SQL before the first '-- name:' line")
        else:
            current.append(line.rstrip())
    result = {name: "\n".join(lines).strip() for name, lines in found.items()}
    empty = [name for name, query in result.items() if not query]
    if empty:
        raise ValueError(f"empty queries: {', '.join(empty)}")
    return result


@functools.cache
def queries() -> Mapping[str, str]:
    """The package's queries (``sql/queries.sql``), read once."""
    text = resources.files(__package__).joinpath("sql", "queries.sql").read_text("utf-8")
    return MappingProxyType(parse_queries(text))
