"""The ports: the Protocols through which the core reaches storage and the outside world.

Adapters implement them (``adapters/postgres``, …); ``sync_engine.testing`` holds in-memory
implementations for fast unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sync_engine.parsing.parser import ParseResult
from sync_engine.ports.pending import PendingWrite
from sync_engine.ports.records import (
    GitAuthor,
    GitCommit,
    PhaseRow,
    PlanChange,
    PlanRow,
    PlanSyncState,
    RootState,
    SectionRow,
    SkippedPlan,
    StoredPlanInfo,
    StoredTask,
    SyncCounts,
    TaskRow,
)

__all__ = [
    "FileStat",
    "GitAuthor",
    "GitCommit",
    "GitWorkTree",
    "NamedPlans",
    "ParseCache",
    "PendingWrite",
    "PhaseRow",
    "PlanChange",
    "PlanFiles",
    "PlanRow",
    "PlanStore",
    "PlanSyncState",
    "RootState",
    "SectionRow",
    "SkippedPlan",
    "StoredPlanInfo",
    "StoredTask",
    "SyncCounts",
    "TaskRow",
]


@dataclass(frozen=True, slots=True)
class NamedPlans:
    """Some plans of a root as a sync starts from them (see ``PlanStore.named_plans``)."""

    index: dict[str, StoredPlanInfo]
    pending: dict[str, PendingWrite]
    merging: set[str]


class PlanStore(Protocol):
    """The relational store of plans, phases, sections and tasks (PostgreSQL in production).

    Every method is one transaction. Raises ``StoreError`` (see ``sync_engine.errors``) when
    the database cannot be reached or refuses a write; nothing is half-applied.
    """

    def ensure_root(self, path: str) -> RootState:
        """The root's state, creating it (with a fresh replica id) on first use."""
        ...

    def lock_root(self, root_id: str) -> AbstractContextManager[None]:
        """Hold the root's sync lock (across processes and machines) for the block."""
        ...

    def set_root_synced(self, root_id: str, git_head: str | None) -> None:
        """Record a finished sync of the root (time and, in a git work tree, HEAD)."""
        ...

    def plan_index(self, root_id: str) -> dict[str, StoredPlanInfo]:
        """Live (not deleted) plans of the root by relative path."""
        ...

    def named_plans(
        self, root_id: str, paths: Collection[str], plan_ids: Collection[str]
    ) -> NamedPlans:
        """What a sync of the root's live plans at ``paths`` or with ``plan_ids`` starts
        from, as of one moment: their ``plan_index`` entries, their ``pending_writes`` and
        which of them ``plans_needing_merge`` names."""
        ...

    def plan_tasks(self, plan_id: str) -> list[StoredTask]:
        """The plan's live tasks in document order."""
        ...

    def plans_needing_merge(self, root_id: str) -> set[str]:
        """Ids of the root's plans with database-side edits not yet synced (the change log)
        or conflicts open or settled but not yet applied."""
        ...

    def plan_sync_state(self, plan_id: str) -> PlanSyncState:
        """What the three-way sync of the plan reads, as of one moment."""
        ...

    def apply_plan_change(self, root_id: str, change: PlanChange) -> str:
        """Write one plan's sync (plan row, phases, sections, tasks, tombstones, base) in one
        transaction. Returns the plan id."""
        ...

    def apply_plan_changes(self, root_id: str, changes: Sequence[PlanChange]) -> list[str | None]:
        """Write several plans' syncs in one transaction (all or none); returns their plan
        ids in order. The fast way to store many new plans. A plan edited in the database
        while it was being synced is left out (``None``): it keeps its base and its
        change-log entries, and the next sync merges it three ways."""
        ...

    def record_pending_write(
        self,
        plan_id: str,
        content_hash: str,
        change: PlanChange,
        read_content: bytes | None = None,
        read_stat: tuple[int, int, int] | None = None,
    ) -> None:
        """Record, and commit durably, the intent of a plan's sync before its file is
        renamed into place: the file is to hold the bytes hashing to ``content_hash``, the
        database ``change``; ``read_content`` and ``read_stat`` (size, mtime in ns,
        inode) are the file as the sync read it.
        ``apply_plan_change`` of the plan deletes it. Replaces an older intent of the plan."""
        ...

    def pending_writes(self, root_id: str) -> dict[str, PendingWrite]:
        """The intents left by interrupted syncs of the root's live plans, by plan id."""
        ...

    def drop_pending_write(self, plan_id: str) -> None:
        """Forget the plan's intent (its file did not get, or no longer holds, its content)."""
        ...

    def mark_skipped(self, root_id: str, path: str, reason: str | None) -> None:
        """Record (or clear, with ``None``) why a plan is left alone; its rows are kept."""
        ...

    def delete_plans(self, root_id: str, plan_ids: Sequence[str]) -> int:
        """Tombstone plans and their tasks; returns how many tasks were tombstoned."""
        ...

    def refresh_stats(self, stats: Sequence[tuple[str, int, int, int]]) -> None:
        """Store ``(plan_id, size, mtime_ns, inode)`` of plans whose bytes did not change."""
        ...

    def record_operation(
        self, root_id: str, kind: str, status: str, counts: SyncCounts, duration_s: float
    ) -> None:
        """Append a row to the sync operations log."""
        ...


class FileStat(Protocol):
    """What the fast path compares: size, modification time and inode."""

    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def inode(self) -> int: ...


class PlanFiles(Protocol):
    """The plan files of one root (the local disk in production). Paths are relative to
    the root, ``/``-separated; nothing outside the root is ever read or written."""

    def list_plans(self) -> Sequence[FileStat]:
        """Every plan file under the root matched by the include/exclude settings."""
        ...

    def stat_plans(self, paths: Iterable[str]) -> Sequence[FileStat]:
        """The stats of those of ``paths`` that ``list_plans`` would list (the others:
        missing, or not plans of the root, are left out), in their order."""
        ...

    def read(self, path: str) -> tuple[bytes, FileStat]:
        """A consistent read: the bytes and the stat they belong to (re-read while the file
        changes under the reader)."""
        ...

    def write(self, path: str, data: bytes, expected_sha256: str) -> FileStat:
        """Replace the file's content with ``data`` if it still holds the bytes that hash to
        ``expected_sha256``: temp file beside it, fsync, re-check, atomic rename. At every
        moment the file holds either its old or its new complete content.

        Raises:
            PlanChangedDuringSyncError: the file changed since it was read (nothing written).
        """
        ...

    def unfinished_write(self, path: str) -> bool:
        """Whether a write of the file was cut short before its rename: the temp file of a
        process that is gone is still beside it."""
        ...


class ParseCache(Protocol):
    """Parses of plan files kept from one sync to the next (and between processes), one a
    plan path: a plan whose bytes are those of its last parse is not parsed again. An entry
    is a hint: a miss, or any fault reading one, means a parse; the cache can be dropped at
    any time. Instances cross to the worker processes of ``PlanAnalyser`` (picklable)."""

    def get(self, path: str, content_hash: str) -> ParseResult | None:
        """The parse of the plan at ``path`` when its bytes hashed to ``content_hash``
        (SHA-256, hex), made by this very parser; else ``None``."""
        ...

    def put(self, path: str, content_hash: str, parsed: ParseResult) -> None:
        """Keep ``parsed``, the parse of the bytes hashing to ``content_hash`` (never
        raises: a cache that cannot be written is a cache that misses)."""
        ...

    def flush(self) -> None:
        """Wait until what was put is kept (for another process to find)."""
        ...


class GitWorkTree(Protocol):
    """The git work tree holding the root, when there is one."""

    def head(self) -> str | None:
        """The commit checked out, or ``None`` on an unborn branch."""
        ...

    def changed_between(self, old: str, new: str) -> set[str] | None:
        """Root-relative paths changed between two commits (``None``: cannot tell)."""
        ...

    def repository_path(self, path: str) -> str:
        """A root-relative path as git names it (relative to the top of the work tree)."""
        ...

    def commit(
        self,
        files: Mapping[str, bytes],
        message: Callable[[Sequence[str]], str],
        author: GitAuthor,
    ) -> GitCommit:
        """Commit these root-relative files with exactly these bytes on top of HEAD, by
        ``author`` (also the committer), running the repository's hooks; ``message`` makes
        the commit message from the paths that go in. Nothing else goes in: the user's other
        changes, staged or not, stay as they were. Files HEAD does not hold are left out
        (``GitCommit.left_out``), files that already hold HEAD's bytes need no commit.

        Raises:
            GitCommitError: git refused or could not run (the message says so in the rare
                case where a commit was made all the same).
        """
        ...
