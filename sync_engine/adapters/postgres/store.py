"""``PostgresPlanStore``: the ``PlanStore`` port on PostgreSQL (psycopg 3 and a small pool).

Every method is one transaction on a pooled connection; every write transaction first sets
``sync_engine.origin = 'engine'`` so that the change-log triggers skip the engine's own
writes. The schema is migrated when the store opens (see ``migrations``). Rows are mapped
to the port's records with psycopg's row factories; UUIDs are read as text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import psycopg
from psycopg.rows import TupleRow, class_row, dict_row
from psycopg.types.json import Json
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool

from sync_engine.adapters.postgres.connection import redact_conninfo, translate_errors
from sync_engine.adapters.postgres.migrations import migrate
from sync_engine.adapters.postgres.plan_writes import (
    apply_plan_change,
    apply_plan_changes,
    json_text,
    jsonb,
)
from sync_engine.adapters.postgres.queries import queries
from sync_engine.errors import ConflictHeldError, NotFoundError
from sync_engine.ports import NamedPlans
from sync_engine.ports.pending import (
    PendingWrite,
    intent_to_json,
    plan_change_from_json,
    read_content_from_json,
    read_stat_from_json,
)
from sync_engine.ports.records import (
    PlanChange,
    PlanSyncState,
    RootState,
    SkippedPlan,
    StoredConflict,
    StoredPlanInfo,
    StoredTask,
    SyncCounts,
)

__all__ = ["PostgresPlanStore", "StoreSummary", "TaskView"]

Connection = psycopg.Connection[TupleRow]

_IDLE = psycopg.pq.TransactionStatus.IDLE
_HEX_DIGITS = frozenset("0123456789abcdef")
_DASH_POSITIONS = frozenset({8, 13, 18, 23})  # in a UUID as printed
_SHOWN_MATCHES = 5


@dataclasses.dataclass(frozen=True, slots=True)
class TaskView:
    """A live task as commands show it; ``plan`` is the ``/``-separated relative path."""

    id: str
    plan: str
    phase: int | None
    phase_title: str | None
    text: str
    status: str
    line: int


@dataclasses.dataclass(frozen=True, slots=True)
class StoreSummary:
    """What the store holds of one root."""

    plans: int
    tasks: int
    tasks_by_status: dict[str, int]
    skipped: tuple[SkippedPlan, ...]
    last_sync_at: datetime | None


class PostgresPlanStore:
    """The plan store on PostgreSQL.

    Args:
        conninfo: a libpq URL or ``key=value`` string.
        min_size, max_size: bounds of the connection pool.
        connect_timeout: seconds to wait for the server when opening and for a pooled
            connection afterwards.
        auto_migrate: apply pending migrations when the store opens.
        asynchronous_commit: let ``apply_plan_change`` commit without waiting for the WAL
            flush. Its rows derive from the plan files, so a crash that loses the last such
            commits (never part of one) leaves the state of a crash between writing a file
            and the database, which the next sync repairs; a commit per plan costs a disk
            flush otherwise, a large share of a cold sync. The sync's bookkeeping
            (``refresh_stats``, ``set_root_synced``, ``record_operation``) commits so too:
            losing it only makes the next sync read a few more files.

    The pool opens on first use (or ``open()``); ``close()`` or a ``with`` block closes it.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 10.0,
        auto_migrate: bool = True,
        asynchronous_commit: bool = True,
    ) -> None:
        self._conninfo = conninfo
        self._where = redact_conninfo(conninfo)
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._auto_migrate = auto_migrate
        self._asynchronous_commit = asynchronous_commit
        self._pool: ConnectionPool[Connection] | None = None
        self._opening = threading.Lock()
        self._pinned = threading.local()  # .connection: the one holding the root lock

    def __repr__(self) -> str:
        return f"PostgresPlanStore({self._where!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        """Reach the server, migrate the schema (unless told not to) and open the pool.

        Raises:
            StoreUnavailableError: the server cannot be reached.
            StoreError: a migration failed.
        """
        with self._opening:
            if self._pool is not None:
                return
            with translate_errors(self._where):
                timeout = max(1, round(self._connect_timeout))
                pool: ConnectionPool[Connection] = ConnectionPool(
                    self._conninfo,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    kwargs={"connect_timeout": timeout, "application_name": "sync-engine"},
                    configure=_configure,
                    timeout=self._connect_timeout,
                    name="sync-engine",
                    open=False,
                )
                try:
                    pool.open(wait=True, timeout=self._connect_timeout)
                    if self._auto_migrate:
                        with pool.connection() as connection:
                            migrate(connection)
                except BaseException:
                    pool.close()
                    raise
            self._pool = pool

    def close(self) -> None:
        """Close the pool (a later call opens it again)."""
        with self._opening:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> PostgresPlanStore:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A pooled connection, idle (the one holding this thread's root lock, if any);
        driver errors come out as ``StoreError``."""
        pinned: Connection | None = getattr(self._pinned, "connection", None)
        if pinned is not None:
            with translate_errors(self._where):
                yield pinned
            return
        if self._pool is None:
            self.open()
        assert self._pool is not None
        with translate_errors(self._where), self._pool.connection() as connection:
            yield connection

    @contextlib.contextmanager
    def _autocommit(self) -> Iterator[Connection]:
        """A pooled connection outside any transaction: each statement is its own, without
        the round trips of a BEGIN and a COMMIT (for lone reads, and session-level locks)."""
        with self._connection() as connection:
            previous = connection.autocommit
            connection.autocommit = True
            try:
                yield connection
            finally:
                if not connection.closed:
                    connection.autocommit = previous

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """A pooled connection inside one transaction, committed when the block ends."""
        with self._connection() as connection, connection.transaction():
            if write:
                connection.execute(queries()["set_engine_origin"])
            yield connection

    @contextlib.contextmanager
    def _one_trip(self, *opening: str) -> Iterator[Connection]:
        """One transaction in one round trip: the ``opening`` named queries (a BEGIN first),
        the block's statements and the COMMIT go out pipelined when the block ends, so the
        block reads its cursors' results after it. A failed statement rolls it back."""
        sql = queries()
        with self._autocommit() as connection:
            try:
                with connection.pipeline():
                    for name in opening:
                        connection.execute(sql[name])
                    yield connection
                    connection.execute(sql["commit"])
            except BaseException:
                if not connection.closed and connection.info.transaction_status != _IDLE:
                    with contextlib.suppress(psycopg.Error):
                        connection.execute(sql["rollback"])
                raise

    # -- roots ------------------------------------------------------------------------------------

    def ensure_root(self, path: str) -> RootState:
        sql = queries()
        with self._autocommit() as connection:  # known roots need no write, so no commit
            cursor = connection.cursor(row_factory=class_row(RootState))
            known = cursor.execute(sql["root_by_path"], {"path": path}).fetchone()
        if known is not None:
            return known
        with self._transaction(write=True) as connection:
            connection.execute(sql["insert_root"], {"path": path})
            cursor = connection.cursor(row_factory=class_row(RootState))
            root = cursor.execute(sql["root_by_path"], {"path": path}).fetchone()
        assert root is not None  # inserted, or there already
        return root

    def root(self, root_id: str) -> RootState:
        """The root's state.

        Raises:
            NotFoundError: no such root.
        """
        with self._transaction() as connection:
            cursor = connection.cursor(row_factory=class_row(RootState))
            root = cursor.execute(queries()["root_by_id"], {"root_id": root_id}).fetchone()
        if root is None:
            raise NotFoundError(f"no plans root {root_id}")
        return root

    @contextlib.contextmanager
    def lock_root(self, root_id: str) -> Iterator[None]:
        """Hold the root's sync lock (a PostgreSQL advisory lock) for the block; waits for a
        sync of the same root in another process or machine to finish.

        The store's calls from this thread inside the block use the lock's connection: a
        sync needs one connection, not two, and its server process warms its caches once.
        """
        sql = queries()
        # Autocommit: the lock outlives the statement; the connection waits idle, not idle
        # in a transaction.
        with self._autocommit() as connection:
            connection.execute(sql["lock_root"], {"root_id": root_id})
            self._pinned.connection = connection
            try:
                yield
            finally:
                self._pinned.connection = None
                try:
                    connection.execute(sql["unlock_root"], {"root_id": root_id})
                except psycopg.Error:
                    connection.close()  # the session's locks go with it; the pool replaces it

    def set_root_synced(self, root_id: str, git_head: str | None) -> None:
        with self._one_trip(*self._bookkeeping()) as connection:
            params = {"root_id": root_id, "git_head": git_head}
            updated = connection.execute(queries()["set_root_synced"], params)
        if updated.rowcount == 0:
            raise NotFoundError(f"no plans root {root_id}")

    def _bookkeeping(self) -> tuple[str, ...]:
        """How the sync's bookkeeping writes (file stats, the root's last sync, the
        operations log) begin: marked as the engine's, and committed without waiting for the
        disk when the store commits asynchronously (losing them only makes the next sync
        read a few more files)."""
        marked = ("begin", "set_engine_origin")
        return (*marked, "set_asynchronous_commit") if self._asynchronous_commit else marked

    # -- plans and tasks ------------------------------------------------------------------------

    def plan_index(self, root_id: str) -> dict[str, StoredPlanInfo]:
        # Every full sync reads the whole index: plain tuples, in the record's field order,
        # cost a third of what a row factory does over a thousand plans.
        with self._autocommit() as connection:
            rows = connection.execute(queries()["plan_index"], {"root_id": root_id}).fetchall()
        return {row[1]: StoredPlanInfo(*row) for row in rows}

    def named_plans(
        self, root_id: str, paths: Collection[str], plan_ids: Collection[str]
    ) -> NamedPlans:
        sql = queries()
        params = {"root_id": root_id, "paths": list(paths), "plan_ids": list(plan_ids)}
        with self._one_trip("begin_snapshot") as connection:
            index = connection.execute(sql["plan_index_of"], params)
            pending = connection.execute(sql["pending_writes"], params)
            merging = connection.execute(sql["plans_needing_merge_of"], params)
        return NamedPlans(
            index={row[1]: StoredPlanInfo(*row) for row in index.fetchall()},
            pending=_pending_writes(pending.fetchall()),
            merging={str(plan_id) for (plan_id,) in merging.fetchall()},
        )

    def plan_tasks(self, plan_id: str) -> list[StoredTask]:
        with self._transaction() as connection:
            return self._plan_tasks(connection, plan_id)

    def plans_needing_merge(self, root_id: str) -> set[str]:
        with self._autocommit() as connection:
            rows = connection.execute(queries()["plans_needing_merge"], {"root_id": root_id})
            return {str(plan_id) for (plan_id,) in rows.fetchall()}

    def plan_sync_state(self, plan_id: str) -> PlanSyncState:
        sql = queries()
        params = {"plan_id": plan_id}
        # One snapshot (the tasks, the base, the change log and the plan's metadata as of
        # the same moment), read in one round trip.
        with self._one_trip("begin_snapshot") as connection:
            tasks = connection.cursor(row_factory=dict_row).execute(sql["plan_tasks"], params)
            base_read = connection.execute(sql["plan_base"], params)
            pending_read = connection.execute(sql["pending_up_to"], params)
            conflicts = connection.cursor(row_factory=class_row(StoredConflict))
            conflicts.execute(sql["plan_conflicts"], params)
            meta_read = connection.execute(sql["plan_metadata"], params)
            titles_read = connection.execute(sql["phase_titles"], params)
        base, pending = base_read.fetchone(), pending_read.fetchone()
        meta = meta_read.fetchone()
        return PlanSyncState(
            plan_id=plan_id,
            base_content=bytes(base[0]) if base else None,
            base_model=base[1] if base else None,
            tasks=self._stored_tasks(tasks.fetchall()),
            pending_up_to=pending[0] if pending else None,
            conflicts=conflicts.fetchall(),
            meta=dict(zip(("title", "version", "date"), meta, strict=True)) if meta else None,
            phase_titles=tuple(str(title) for (title,) in titles_read.fetchall()),
        )

    @classmethod
    def _plan_tasks(cls, connection: Connection, plan_id: str) -> list[StoredTask]:
        cursor = connection.cursor(row_factory=dict_row)
        return cls._stored_tasks(
            cursor.execute(queries()["plan_tasks"], {"plan_id": plan_id}).fetchall()
        )

    @staticmethod
    def _stored_tasks(rows: Sequence[dict[str, Any]]) -> list[StoredTask]:
        return [
            StoredTask(
                id=row["id"],
                position=row["position"],
                parent_id=row["parent_id"],
                phase_key=(row["phase_number"], row["phase_title"]) if row["has_phase"] else None,
                text=row["text"],
                title=row["title"],
                status=row["status"],
                char=row["char"],
                line=row["line"],
                explicit_id=row["explicit_id"],
                label=row["label"],
            )
            for row in rows
        ]

    def apply_plan_change(self, root_id: str, change: PlanChange) -> str:
        with self._connection() as connection:
            return apply_plan_change(
                connection, root_id, change, asynchronous_commit=self._asynchronous_commit
            )

    def apply_plan_changes(self, root_id: str, changes: Sequence[PlanChange]) -> list[str | None]:
        if not changes:
            return []
        with self._connection() as connection:
            return apply_plan_changes(
                connection, root_id, changes, asynchronous_commit=self._asynchronous_commit
            )

    def record_pending_write(
        self,
        plan_id: str,
        content_hash: str,
        change: PlanChange,
        read_content: bytes | None = None,
        read_stat: tuple[int, int, int] | None = None,
    ) -> None:
        # Committed durably whatever ``asynchronous_commit`` says: the file is renamed next,
        # and an intent lost in a server crash would leave the file's new content unexplained.
        params = {
            "plan_id": plan_id,
            "content_hash": content_hash,
            "change": Json(intent_to_json(change, read_content, read_stat), dumps=json_text),
        }
        with self._one_trip("begin") as connection:
            connection.execute(queries()["record_pending_write"], params)

    def pending_writes(self, root_id: str) -> dict[str, PendingWrite]:
        with self._autocommit() as connection:
            params: dict[str, Any] = {"root_id": root_id, "paths": None, "plan_ids": []}
            rows = connection.execute(queries()["pending_writes"], params)
            return _pending_writes(rows.fetchall())

    def drop_pending_write(self, plan_id: str) -> None:
        with self._one_trip("begin") as connection:
            connection.execute(queries()["drop_pending_write"], {"plan_id": plan_id})

    def mark_skipped(self, root_id: str, path: str, reason: str | None) -> None:
        query = "set_skipped" if reason is not None else "clear_skipped"
        with self._transaction(write=True) as connection:
            params = {"root_id": root_id, "path": path, "reason": reason}
            connection.execute(queries()[query], params)

    def delete_plans(self, root_id: str, plan_ids: Sequence[str]) -> int:
        if not plan_ids:
            return 0
        with self._transaction(write=True) as connection:
            params = {"root_id": root_id, "plan_ids": list(plan_ids)}
            return connection.execute(queries()["tombstone_plans"], params).rowcount

    def refresh_stats(self, stats: Sequence[tuple[str, int, int, int]]) -> None:
        if not stats:
            return
        ids, sizes, mtimes, inodes = (list(column) for column in zip(*stats, strict=True))
        params = {"id": ids, "size": sizes, "mtime_ns": mtimes, "inode": inodes}
        with self._one_trip(*self._bookkeeping()) as connection:
            connection.execute(queries()["refresh_stats"], params)

    def record_operation(
        self, root_id: str, kind: str, status: str, counts: SyncCounts, duration_s: float
    ) -> None:
        params = {
            "root_id": root_id,
            "kind": kind,
            "status": status,
            "counts": jsonb(dataclasses.asdict(counts)),
            "duration_s": duration_s,
        }
        with self._one_trip(*self._bookkeeping()) as connection:
            connection.execute(queries()["record_operation"], params)

    # -- edits made through commands (recorded in the change log like any other program's) --

    @contextlib.contextmanager
    def _edit(self, actor: str) -> Iterator[Connection]:
        """A transaction whose writes the change log records with ``origin = actor``."""
        with self._transaction() as connection:
            connection.execute(queries()["set_origin"], {"origin": actor})
            yield connection

    def update_task(
        self, task_id: str, *, status: str | None, text: str | None, actor: str = "cli"
    ) -> None:
        """Change a live task's status and/or text; the next sync writes it to the file.

        Raises:
            ConflictHeldError: an open conflict holds one of these fields.
            NotFoundError: no such live task.
        """
        fields = {name for name, value in (("status", status), ("text", text)) if value}
        with self._edit(actor) as connection:
            self._check_fields(connection, task_id, fields)
            params = {"id": task_id, "status": status, "text": text}
            if connection.execute(queries()["update_task"], params).rowcount == 0:
                raise NotFoundError(f"no live task {task_id}")
            self._audit(connection, actor, "task.update", task_id, {"status": status, "text": text})

    def add_task(
        self,
        root_id: str,
        plan_path: str,
        text: str,
        *,
        phase: int | None = None,
        after: str | None = None,
        status: str = "todo",
        actor: str = "cli",
    ) -> str:
        """Insert a task into a plan (after a task, or at the end of a phase or of the plan);
        returns its id.

        Raises:
            NotFoundError: no such plan, phase or task.
        """
        sql = queries()
        with self._edit(actor) as connection:
            row = connection.execute(
                sql["live_plan_by_path"], {"root_id": root_id, "path": plan_path}
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no plan {plan_path!r} in this root")
            plan_id = str(row[0])
            phase_id: str | None = None
            parent_id: str | None = None
            position: int | None = None
            if after is not None:
                # Right after a task is beside it: under the same parent.
                place = connection.execute(sql["task_place"], {"id": after}).fetchone()
                if place is None or str(place[0]) != plan_id:
                    raise NotFoundError(f"no task {after} in {plan_path}")
                phase_id = str(place[1]) if place[1] is not None else None
                parent_id = str(place[3]) if place[3] is not None else None
                position = int(place[2]) + 1
            elif phase is not None:
                phase_id = _phase_by_number(connection, plan_id, phase, plan_path)
            params = {
                "plan_id": plan_id,
                "phase_id": phase_id,
                "parent_id": parent_id,
                "position": position,
                "status": status,
                "text": text,
            }
            inserted = connection.execute(sql["add_task"], params).fetchone()
            assert inserted is not None
            task_id = str(inserted[0])
            details = {"plan": plan_path, "text": text, "phase": phase, "after": after}
            self._audit(connection, actor, "task.add", task_id, details)
        return task_id

    def delete_task(self, task_id: str, *, actor: str = "cli") -> None:
        """Tombstone a live task; the next sync removes its lines from the file.

        Raises:
            ConflictHeldError: an open conflict holds the task.
            NotFoundError: no such live task.
        """
        with self._edit(actor) as connection:
            self._check_fields(connection, task_id, {"status", "text", "place", "exists"})
            if connection.execute(queries()["delete_task"], {"id": task_id}).rowcount == 0:
                raise NotFoundError(f"no live task {task_id}")
            self._audit(connection, actor, "task.delete", task_id, {})

    def move_task(
        self,
        task_id: str,
        *,
        after: str | None = None,
        parent: str | None = None,
        phase: int | None = None,
        actor: str = "cli",
    ) -> None:
        """Move a live task with its sub-tasks: right after the task ``after`` (at its level),
        as the last sub-task of ``parent``, at the end of phase number ``phase``, or (none of
        them) to the end of its phase as a top-level task. The next sync moves its lines.

        Raises:
            ConflictHeldError: an open conflict holds the task's place.
            NotFoundError: no such live task, task of the same plan to go after or under, or
                phase.
            StoreError: the place is under the task itself or one of its sub-tasks.
        """
        sql = queries()
        with self._edit(actor) as connection:
            self._check_fields(connection, task_id, {"place"})
            found = connection.execute(sql["live_task_place"], {"id": task_id}).fetchone()
            if found is None:
                raise NotFoundError(f"no live task {task_id}")
            plan_id, phase_id = str(found[0]), found[1]
            params: dict[str, Any] = {"id": task_id, "parent_id": None, "position": None}
            end_position: int | None = None
            if after is not None:
                anchor = connection.execute(
                    sql["move_anchor"], {"id": after, "task_id": task_id}
                ).fetchone()
                if anchor is None or str(anchor[0]) != plan_id:
                    raise NotFoundError(f"no live task {after} in the plan of task {task_id}")
                phase_id, end_position = anchor[1], anchor[3]
                if anchor[2] is not None:  # its parent, or the nearest one not deleted
                    live = connection.execute(sql["live_ancestor"], {"id": anchor[2]}).fetchone()
                    params["parent_id"] = str(live[0]) if live else None
                params["position"] = end_position
            elif parent is not None:
                anchor = connection.execute(sql["live_task_place"], {"id": parent}).fetchone()
                if anchor is None or str(anchor[0]) != plan_id:
                    raise NotFoundError(f"no live task {parent} in the plan of task {task_id}")
                phase_id, params["parent_id"] = anchor[1], parent
            elif phase is not None:
                phase_id = _phase_by_number(
                    connection, plan_id, phase, f"the plan of task {task_id}"
                )
            params["phase_id"] = phase_id
            if connection.execute(sql["move_task"], params).rowcount == 0:
                raise NotFoundError(f"no live task {task_id}")
            if end_position is not None:
                # A position equal to the old one reads as "left as it was" (the end of the
                # new place): given again on its own, it is kept.
                connection.execute(
                    sql["set_task_position"], {"id": task_id, "position": end_position}
                )
            details = {"after": after, "parent": parent, "phase": phase}
            self._audit(connection, actor, "task.move", task_id, details)

    def _check_fields(self, connection: Connection, task_id: str, fields: set[str]) -> None:
        rows = connection.execute(queries()["open_conflict_fields"], {"task_id": task_id})
        open_fields = {str(field) for (field,) in rows.fetchall()}
        held = fields & open_fields if "exists" not in open_fields else fields
        if held:
            raise ConflictHeldError(
                f"task {task_id}: {', '.join(sorted(held))} held by an open conflict; "
                "settle it first (sync-engine conflicts list)"
            )

    @staticmethod
    def _audit(
        connection: Connection, actor: str, action: str, target: str, details: object
    ) -> None:
        params = {"actor": actor, "action": action, "target": target, "details": jsonb(details)}
        connection.execute(queries()["record_audit"], params)

    # -- conflicts --------------------------------------------------------------------------------

    def list_conflicts(self, root_id: str, status: str | None = None) -> list[StoredConflict]:
        params = {"root_id": root_id, "status": status}
        with self._transaction() as connection:
            cursor = connection.cursor(row_factory=class_row(StoredConflict))
            return cursor.execute(queries()["list_conflicts"], params).fetchall()

    def get_conflict(self, root_id: str, id_or_prefix: str) -> StoredConflict:
        """The conflict named by its id or a unique prefix of it.

        Raises:
            NotFoundError: none, or a prefix shared by several.
        """
        reference = id_or_prefix.strip()
        bounds = _id_range(reference) if reference else None
        if bounds is None:
            raise NotFoundError(f"no conflict {reference!r}")
        params = {"root_id": root_id, "low": bounds[0], "high": bounds[1], "limit": 2}
        with self._transaction() as connection:
            cursor = connection.cursor(row_factory=class_row(StoredConflict))
            rows = cursor.execute(queries()["find_conflicts"], params).fetchall()
        if not rows:
            raise NotFoundError(f"no conflict {reference!r}")
        if len(rows) > 1:
            raise NotFoundError(f"conflict id {reference!r} is ambiguous; give more characters")
        return rows[0]

    def resolve_conflict(self, conflict_id: str, resolution: dict[str, Any], actor: str) -> None:
        """Settle an open conflict; the next sync of its plan applies it to both sides.

        Raises:
            NotFoundError: no such open conflict (already settled?).
        """
        params = {"id": conflict_id, "actor": actor, "resolution": jsonb(resolution)}
        with self._transaction(write=True) as connection:
            if connection.execute(queries()["resolve_conflict"], params).fetchone() is None:
                raise NotFoundError(f"no open conflict {conflict_id}")
            self._audit(connection, actor, "conflict.resolve", conflict_id, resolution)

    # -- what commands show -----------------------------------------------------------------------

    def list_tasks(
        self, root_id: str, plan_path: str | None = None, status: str | None = None
    ) -> list[TaskView]:
        """Live tasks of the root, by plan path then document order, optionally of one plan
        (relative path) and/or one status."""
        params = {"root_id": root_id, "plan_path": plan_path, "status": status}
        with self._transaction() as connection:
            cursor = connection.cursor(row_factory=class_row(TaskView))
            return cursor.execute(queries()["list_tasks"], params).fetchall()

    def get_task(self, root_id: str, id_or_prefix: str) -> TaskView:
        """The live task named by its id, its explicit id (``🆔 x`` in the file), or a
        unique prefix of its id.

        Raises:
            NotFoundError: no such task, or a prefix shared by several (the message lists
                some of them).
        """
        reference = id_or_prefix.strip()
        if not reference:
            raise NotFoundError("no task id given")
        bounds = _id_range(reference)
        params = {
            "root_id": root_id,
            "value": reference,
            "low": bounds[0] if bounds else None,
            "high": bounds[1] if bounds else None,
            "limit": _SHOWN_MATCHES + 1,
        }
        with self._transaction() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            rows = cursor.execute(queries()["find_tasks"], params).fetchall()
        # A whole id, then an explicit id, beats a prefix.
        whole = [row for row in rows if bounds and row["id"] == bounds[0] == bounds[1]]
        explicit = [row for row in rows if row["explicit_id"] == reference]
        candidates = whole or explicit or rows
        if not candidates:
            raise NotFoundError(f"no task {reference!r}")
        if len(candidates) > 1:
            shown = ", ".join(
                f"{row['id']} ({row['plan']}:{row['line']})" for row in candidates[:_SHOWN_MATCHES]
            )
            more = " and more" if len(candidates) > _SHOWN_MATCHES else ""
            raise NotFoundError(
                f"task id {reference!r} is ambiguous: it matches {shown}{more}; "
                "give more characters"
            )
        row = candidates[0]
        return TaskView(**{field.name: row[field.name] for field in dataclasses.fields(TaskView)})

    def summary(self, root_id: str) -> StoreSummary:
        """Counts of what the store holds of the root, its skipped plans and last sync."""
        sql = queries()
        params = {"root_id": root_id}
        with self._transaction() as connection:
            counts = connection.execute(sql["summary_counts"], params).fetchone()
            by_status = connection.execute(sql["tasks_by_status"], params).fetchall()
            skipped = connection.cursor(row_factory=class_row(SkippedPlan))
            skipped_plans = tuple(skipped.execute(sql["skipped_plans"], params).fetchall())
        assert counts is not None
        tasks_by_status = {str(status): int(count) for status, count in by_status}
        return StoreSummary(
            plans=int(counts[0]),
            tasks=sum(tasks_by_status.values()),
            tasks_by_status=tasks_by_status,
            skipped=skipped_plans,
            last_sync_at=counts[1],
        )


def _pending_writes(rows: Sequence[tuple[Any, ...]]) -> dict[str, PendingWrite]:
    """The intents of the rows of the pending_writes queries, by plan id."""
    return {
        str(plan_id): PendingWrite(
            plan_id=str(plan_id),
            content_hash=content_hash,
            change=plan_change_from_json(change),
            edited_since=edited_since,
            read_content=read_content_from_json(change),
            read_stat=read_stat_from_json(change),
        )
        for plan_id, content_hash, change, edited_since in rows
    }


def _id_range(reference: str) -> tuple[str, str] | None:
    """The lowest and highest UUIDs that start with ``reference`` (a prefix of a UUID as
    printed, or bare hex digits), or None when no UUID can start with it."""
    text = reference.lower()
    dashed = "-" in text
    for position, char in enumerate(text):
        dash_here = dashed and position in _DASH_POSITIONS
        if (char != "-") if dash_here else (char not in _HEX_DIGITS):
            return None
    digits = text.replace("-", "")
    if len(digits) > 32:
        return None
    return str(uuid.UUID(digits.ljust(32, "0"))), str(uuid.UUID(digits.ljust(32, "f")))


def _phase_by_number(connection: Connection, plan_id: str, number: int, plan: str) -> str:
    """The id of phase ``number`` of the plan (``plan`` names it in the error).

    Raises:
        NotFoundError: the plan has no such phase.
    """
    found = connection.execute(
        queries()["phase_by_number"], {"plan_id": plan_id, "number": number}
    ).fetchone()
    if found is None:
        raise NotFoundError(f"{plan} has no phase {number}")
    return str(found[0])


def _configure(connection: Connection) -> None:
    """Pooled connections read UUIDs as ``str``, as the port's records hold them."""
    connection.adapters.register_loader("uuid", TextLoader)
