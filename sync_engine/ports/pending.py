"""A plan's pending write: the intent a both-ways sync records before it renames the file.

A sync writes the file, then the database. Between the two it may be killed; the intent,
committed before the rename, holds the database side exactly as the sync meant to apply it
(the ``PlanChange`` computed from the new content), so the next sync rolls it forward rather
than rediscovering it by matching texts. It is kept as JSON (never pickled): a stored intent
stays readable by another version of the engine and by people looking at the database.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_engine.ports.records import (
    ConflictWrite,
    PhaseRow,
    PlanChange,
    PlanRow,
    SectionRow,
    TaskRow,
)

__all__ = ["PendingWrite", "plan_change_from_json", "plan_change_to_json"]

# Bumped when the JSON shape changes; an intent of another shape is not rolled forward.
INTENT_VERSION = 1


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """The intent of a plan's interrupted sync: the file was to hold the bytes hashing to
    ``content_hash`` and the database ``change``. ``edited_since``: the change log holds
    database-side edits of the plan after those ``change`` consumes (made after the sync
    read the database: rolling the change forward could overwrite them). ``read_content``
    and ``read_stat`` (size, mtime in ns, inode): the file's bytes and stat as that sync
    read them (``None`` in an intent recorded without)."""

    plan_id: str
    content_hash: str
    change: PlanChange
    edited_since: bool = False
    read_content: bytes | None = None
    read_stat: tuple[int, int, int] | None = None


def plan_change_to_json(change: PlanChange) -> dict[str, Any]:
    """``change`` as JSON values (bytes in base64). Values of free-form mappings (front
    matter, task fields, conflict values) go as JSON text like the columns they end in."""
    return {
        "version": INTENT_VERSION,
        "plan_id": change.plan_id,
        "plan": _fields(change.plan),
        "phases": [_fields(phase) for phase in change.phases],
        "sections": [_fields(section) for section in change.sections],
        "tasks": [_fields(task) for task in change.tasks],
        "created": list(change.created),
        "updated": list(change.updated),
        "deleted": list(change.deleted),
        "base_content": base64.b64encode(change.base_content).decode("ascii"),
        "base_model": dict(change.base_model),
        "consumed_up_to": change.consumed_up_to,
        "conflicts": [_fields(conflict) for conflict in change.conflicts],
        "refreshed": [list(values) for values in change.refreshed],
        "applied": list(change.applied),
        "tombstones": [_fields(task) for task in change.tombstones],
    }


def intent_to_json(
    change: PlanChange,
    read_content: bytes | None,
    read_stat: tuple[int, int, int] | None = None,
) -> dict[str, Any]:
    """An intent's JSON document: the change, and the file's bytes and stat as the sync
    read them."""
    document = plan_change_to_json(change)
    if read_content is not None:
        document["read_content"] = base64.b64encode(read_content).decode("ascii")
    if read_stat is not None:
        document["read_stat"] = list(read_stat)
    return document


def read_stat_from_json(data: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """The file's (size, mtime in ns, inode) an intent's sync read (``None``: not recorded)."""
    found = data.get("read_stat")
    if isinstance(found, list) and len(found) == 3 and all(isinstance(v, int) for v in found):
        return (found[0], found[1], found[2])
    return None


def read_content_from_json(data: Mapping[str, Any]) -> bytes | None:
    """The file's bytes an intent's sync read (``None``: not recorded)."""
    encoded = data.get("read_content")
    return base64.b64decode(encoded) if isinstance(encoded, str) else None


def plan_change_from_json(data: Mapping[str, Any]) -> PlanChange:
    """The ``PlanChange`` that ``plan_change_to_json`` made ``data`` from.

    Raises:
        ValueError: ``data`` is not an intent of this version.
    """
    if data.get("version") != INTENT_VERSION:
        raise ValueError(
            f"a pending write of version {data.get('version')!r}, not {INTENT_VERSION}"
        )
    return PlanChange(
        plan_id=data["plan_id"],
        plan=PlanRow(**data["plan"]),
        phases=[PhaseRow(**phase) for phase in data["phases"]],
        sections=[SectionRow(**section) for section in data["sections"]],
        tasks=[TaskRow(**task) for task in data["tasks"]],
        created=list(data["created"]),
        updated=list(data["updated"]),
        deleted=list(data["deleted"]),
        base_content=base64.b64decode(data["base_content"]),
        base_model=dict(data["base_model"]),
        consumed_up_to=data["consumed_up_to"],
        conflicts=[ConflictWrite(**conflict) for conflict in data["conflicts"]],
        refreshed=[(key, base, markdown, db) for key, base, markdown, db in data["refreshed"]],
        applied=list(data["applied"]),
        tombstones=[TaskRow(**task) for task in data.get("tombstones", ())],
    )


def _fields(row: object) -> dict[str, Any]:
    """A record's fields by name (shallow: nested values are JSON values already)."""
    return {name: _plain(getattr(row, name)) for name in _field_names(type(row))}


def _field_names(kind: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(field.name for field in dataclasses.fields(kind))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """Mappings as dicts (a record may hold a read-only mapping)."""
    if value is None or type(value) in _SCALARS:
        return value
    return dict(value) if isinstance(value, Mapping) else value


_SCALARS = frozenset({str, int, float, bool, list, tuple})
