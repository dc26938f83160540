"""The records that cross the ports: what the store keeps of roots, plans and tasks, and
the change set one plan's sync applies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class RootState:
    """A plans root as the store knows it. ``replica_id`` is made when the root is first
    synced and recognises a restored or foreign database."""

    id: str
    path: str
    replica_id: str
    git_head: str | None = None
    last_sync_at: datetime | None = None


class StoredPlanInfo(NamedTuple):
    """What change detection needs of a stored plan: the fast-path stat and the hashes.

    A named tuple rather than a frozen dataclass: every sync reads one per plan of the
    root, and a tuple is built in a quarter of the time."""

    id: str
    path: str
    content_hash: str
    size: int
    mtime_ns: int
    inode: int
    git_blob: str | None = None
    skipped_reason: str | None = None
    task_count: int = 0


@dataclass(frozen=True, slots=True)
class StoredTask:
    """A live task row. ``phase_key`` is ``(number, title)`` of its phase, or ``None``."""

    id: str
    position: int
    parent_id: str | None
    phase_key: tuple[int | None, str] | None
    text: str
    title: str
    status: str
    char: str
    line: int
    explicit_id: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseRow:
    position: int
    number: int | None
    title: str
    heading: str
    level: int
    line: int
    end_line: int
    declared_progress: float | None
    computed_progress: float | None


@dataclass(frozen=True, slots=True)
class SectionRow:
    position: int
    level: int
    title: str
    line: int
    end_line: int
    parent_position: int | None
    phase_position: int | None


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as it should be after the sync; ``id`` is the stored UUID it was matched to,
    or a new UUID."""

    id: str
    position: int
    parent_id: str | None
    phase_position: int | None
    section_position: int | None
    line: int
    end_line: int
    status: str
    char: str
    text: str
    title: str
    label: str | None
    explicit_id: str | None
    depth: int
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PlanRow:
    """The plan's own columns."""

    path: str
    title: str | None
    version: str | None
    date: str | None
    declared_progress: float | None
    computed_progress: float | None
    front_matter: Mapping[str, Any]
    metadata: Mapping[str, Any]
    content_hash: str
    git_blob: str | None
    size: int
    mtime_ns: int
    inode: int
    score: int
    findings: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StoredConflict:
    """A conflict as the store keeps it (``plan`` is the plan's relative path)."""

    id: str
    plan_id: str
    plan: str
    task_id: str | None
    type: str
    severity: str
    status: str
    field: str | None
    base: Any
    markdown: Any
    database: Any
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: Any = None
    applied_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConflictWrite:
    """A conflict a sync records: ``open`` (left for a person), or ``resolved`` by a
    strategy (``resolved_by``), which the same sync applies."""

    task_id: str | None
    type: str
    severity: str
    field: str
    base: Any
    markdown: Any
    database: Any
    status: str = "open"
    resolved_by: str | None = None
    resolution: Any = None


@dataclass(frozen=True, slots=True)
class PlanSyncState:
    """What the three-way sync of one plan reads from the store: the base (bytes and the
    compact model, ``None`` before the first sync), the live tasks, the last change-log
    entry not yet consumed, the conflicts still to settle or to apply, and the plan's
    metadata as the database holds it: ``meta`` (``title``, ``version``, ``date``) and the
    title of each phase by position (``None``: not read; the base's values stand)."""

    plan_id: str
    base_content: bytes | None
    base_model: Mapping[str, Any] | None
    tasks: list[StoredTask]
    pending_up_to: int | None
    conflicts: list[StoredConflict]
    meta: Mapping[str, Any] | None = None
    phase_titles: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PlanChange:
    """Everything one plan's sync writes, applied in one transaction.

    ``created``/``updated`` list the ids of ``tasks`` that are new or changed; ``deleted``
    are stored task ids to tombstone. ``base_content``/``base_model`` become the plan's
    base snapshot. A three-way sync also marks the change log consumed up to
    ``consumed_up_to``, records ``conflicts``, refreshes the values of open conflicts
    (``(id, base, markdown, database)``) and marks settled ones ``applied``. ``tombstones``
    are rows of tasks the database deleted while the file kept them (an open conflict names
    them): they are stored deleted, so that the conflict can point at them.
    """

    plan_id: str | None
    plan: PlanRow
    phases: list[PhaseRow]
    sections: list[SectionRow]
    tasks: list[TaskRow]
    created: list[str]
    updated: list[str]
    deleted: list[str]
    base_content: bytes
    base_model: Mapping[str, Any]
    consumed_up_to: int | None = None
    conflicts: list[ConflictWrite] = field(default_factory=list)
    refreshed: list[tuple[str, Any, Any, Any]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    tombstones: list[TaskRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SkippedPlan:
    path: str
    reason: str


@dataclass(slots=True)
class SyncCounts:
    files_scanned: int = 0
    files_changed: int = 0
    tasks_created: int = 0
    tasks_updated: int = 0
    tasks_deleted: int = 0
    conflicts_opened: int = 0
    written_back: int = 0
    plans_deleted: int = 0
    skipped: list[SkippedPlan] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GitAuthor:
    """Who a commit is by: ``name <email>``."""

    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True, slots=True)
class GitCommit:
    """A commit of written-back files. ``commit`` is ``None`` when nothing needed one (the
    files already held what HEAD holds); ``parent`` is the HEAD it was made on.
    ``left_out`` are written files that HEAD does not hold as regular files: adding a file
    to the repository is its owner's choice."""

    commit: str | None
    parent: str | None
    committed: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
