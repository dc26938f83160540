"""The values a three-way merge works on: one plan's state on one side, and a conflict.

A :class:`PlanState` is a plan reduced to what the merge compares — its metadata and its
tasks by id. The base (as of the last sync), the file now and the database now are each one
``PlanState``; the caller matches file tasks to base ids before the merge, so equal ids mean
the same task on every side.

Per task the merge compares three fields (:data:`TASK_FIELDS`): ``status``, ``text`` and
``place`` — the pair ``(phase, parent_id)``, which moves as one value. ``position`` only
orders tasks; a different position alone is never a conflict. The pseudo-field ``exists``
names a task deleted on one side and edited on the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

TASK_FIELDS = ("status", "text", "place")
"""The task fields compared one by one; ``place`` is ``(phase, parent_id)``."""

META_FIELDS = ("title", "version", "date", "declared_progress")
"""The plan metadata compared one by one (``None`` = absent)."""

EXISTS = "exists"
"""The field of a conflict between a deletion on one side and an edit on the other."""

Place = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class TaskState:
    """One task as one side sees it."""

    id: str
    status: str
    text: str
    phase: str | None
    parent_id: str | None
    position: int

    @property
    def place(self) -> Place:
        """Where the task sits: its phase key and its parent's id."""
        return (self.phase, self.parent_id)


@dataclass(frozen=True, slots=True)
class PlanState:
    """One plan as one side sees it: metadata and tasks by id, in document order."""

    meta: Mapping[str, object]
    tasks: Mapping[str, TaskState]


class ConflictType(StrEnum):
    """The kinds of conflict of DESIGN.md, each with its own strategy and severity."""

    CONTENT = "content_divergence"
    STATUS = "status_divergence"
    STRUCTURE = "structure_change"
    METADATA = "metadata_mismatch"


@dataclass(frozen=True, slots=True)
class Conflict:
    """Both sides changed one field of one task (or of the plan) to different values.

    ``base``, ``markdown`` and ``database`` hold that field's value on each side (``None`` =
    absent); for ``exists`` they hold the whole :class:`TaskState` or ``None``.
    """

    type: ConflictType
    field: str
    task_id: str | None
    base: object
    markdown: object
    database: object
    severity: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a conflict is settled: one side's value, or a value of someone's own."""

    take: Literal["markdown", "database", "custom"]
    value: object = None

    def chosen(self, conflict: Conflict) -> object:
        """The value this resolution gives the conflicted field."""
        if self.take == "markdown":
            return conflict.markdown
        if self.take == "database":
            return conflict.database
        return self.value


def conflict_type_of(field: str) -> ConflictType:
    """The conflict type of a field: text → content, status → status, place/exists →
    structure, anything else (plan metadata) → metadata."""
    if field == "text":
        return ConflictType.CONTENT
    if field == "status":
        return ConflictType.STATUS
    if field in ("place", EXISTS):
        return ConflictType.STRUCTURE
    return ConflictType.METADATA


def task_value(task: TaskState | None, field: str) -> object:
    """The value of one of :data:`TASK_FIELDS` (or ``exists``) on a side; ``None`` = absent."""
    if field == EXISTS or task is None:
        return task
    if field == "place":
        return task.place
    if field == "status":
        return task.status
    if field == "text":
        return task.text
    raise ValueError(f"not a task field: {field!r}")


def with_task_value(task: TaskState, field: str, value: object) -> TaskState:
    """``task`` with one of :data:`TASK_FIELDS` set to ``value`` (type-checked)."""
    if field == "place":
        if not (isinstance(value, tuple) and len(value) == 2):
            raise TypeError(f"a place is a (phase, parent_id) pair, not {value!r}")
        phase, parent = value
        if not (phase is None or isinstance(phase, str)) or not (
            parent is None or isinstance(parent, str)
        ):
            raise TypeError(f"a place is a (phase, parent_id) pair of str or None, not {value!r}")
        return replace(task, phase=phase, parent_id=parent)
    if field in ("status", "text"):
        if not isinstance(value, str):
            raise TypeError(f"a task's {field} is a str, not {value!r}")
        return replace(task, status=value) if field == "status" else replace(task, text=value)
    raise ValueError(f"not a task field: {field!r}")
