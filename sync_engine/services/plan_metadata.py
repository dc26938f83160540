"""Plan and phase metadata in the three-way sync: the title, version and date of the plan and
the title of each phase, compared as the merge's plan ``meta``.

A phase's title is the meta field ``phases[N].title``, N its position in the base (the
``position`` of the ``phases`` row other programs see). The file gets the merged values
where it has a place for them (:func:`~sync_engine.rendering.writable_metadata`); the
database gets its target values, so a value the file cannot hold (a version in a plan with
no version line) stays in the database rather than being lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sync_engine.domain.model import Plan
from sync_engine.parsing.parser import ParseResult
from sync_engine.ports.records import PlanChange, PlanSyncState
from sync_engine.rendering import Edit, SetMetadata, SetTitle, writable_metadata

__all__ = [
    "PLAN_FIELDS",
    "base_meta",
    "database_meta",
    "file_meta",
    "metadata_edits",
    "phase_field",
    "with_database_metadata",
]

PLAN_FIELDS = ("title", "version", "date")
"""The plan metadata other programs may write."""

_META = (*PLAN_FIELDS, "declared_progress")


def phase_field(position: int) -> str:
    """The meta field of the title of the base's phase at ``position``."""
    return f"phases[{position}].title"


def base_meta(model: Mapping[str, Any]) -> dict[str, object]:
    meta: dict[str, object] = {name: model.get(name) for name in _META}
    for position, phase in enumerate(model.get("phases", [])):
        meta[phase_field(position)] = phase[1]
    return meta


def file_meta(plan: Plan, phase_at: Mapping[int, int]) -> dict[str, object]:
    """The file's metadata; ``phase_at``: the file's phase index of each base position."""
    meta: dict[str, object] = {name: getattr(plan, name) for name in _META}
    for position, index in phase_at.items():
        meta[phase_field(position)] = plan.phases[index].title
    return meta


def database_meta(base: Mapping[str, object], state: PlanSyncState) -> dict[str, object]:
    """The database's metadata: the plan row's title, version and date and its phases'
    titles (a phase by its position, that of the base); the rest is the engine's (as in
    the base)."""
    meta = dict(base)
    if state.meta is not None:
        meta.update((name, state.meta.get(name)) for name in PLAN_FIELDS)
    for position, title in enumerate(state.phase_titles or ()):
        if phase_field(position) in base:
            meta[phase_field(position)] = title
    return meta


def metadata_edits(
    parsed: ParseResult,
    actual: Mapping[str, object],
    target: Mapping[str, object],
    phase_at: Mapping[int, int],
) -> list[Edit]:
    """The edits that give the file the target's metadata, where it has a place for it."""
    edits: list[Edit] = []
    writable = writable_metadata(parsed)
    for name in PLAN_FIELDS:
        wanted = target.get(name)
        if name in writable and _text(wanted) and wanted != actual.get(name):
            assert isinstance(wanted, str)
            edits.append(SetTitle(wanted) if name == "title" else _set(name, wanted))
    for position, index in phase_at.items():
        wanted = target.get(phase_field(position))
        if (
            f"phases[{index}]" in writable
            and _text(wanted)
            and wanted != actual.get(phase_field(position))
        ):
            assert isinstance(wanted, str)
            edits.append(SetTitle(wanted, phase=index))
    return edits


def _text(value: object) -> bool:
    """A value a file can hold: one non-empty line."""
    return (
        isinstance(value, str) and bool(value.strip()) and "\n" not in value and "\r" not in value
    )


def _set(name: str, value: str) -> SetMetadata:
    return SetMetadata("version" if name == "version" else "date", value)


def with_database_metadata(
    change: PlanChange, target: Mapping[str, object], phase_at: Mapping[int, int]
) -> PlanChange:
    """``change`` with the plan's and phases' metadata the database should hold: what the
    file holds, but the database's own value where a conflict holds it or the file has no
    place for it."""
    plan = change.plan
    title, version, date = (target.get(name) for name in PLAN_FIELDS)
    plan = dataclasses.replace(
        plan,
        title=_or(title, plan.title),
        version=_or(version, plan.version),
        date=_or(date, plan.date),
    )
    titles: dict[int, str] = {}
    for position, index in phase_at.items():
        title = target.get(phase_field(position))
        if isinstance(title, str):
            titles[index] = title
    phases = [
        dataclasses.replace(phase, title=titles[phase.position])
        if titles.get(phase.position, phase.title) != phase.title
        else phase
        for phase in change.phases
    ]
    return dataclasses.replace(change, plan=plan, phases=phases)


def _or(value: object, default: str | None) -> str | None:
    """``value`` when it is a metadata value (a string or none), else ``default``."""
    return value if value is None or isinstance(value, str) else default
