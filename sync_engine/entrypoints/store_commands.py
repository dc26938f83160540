"""Commands that use the database: ``sync``, ``tasks``, ``status`` and ``db``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any

from sync_engine import bootstrap
from sync_engine.adapters.postgres.migrations import migrate as migrate_database
from sync_engine.adapters.postgres.store import PostgresPlanStore, TaskView
from sync_engine.config import Settings, load_settings
from sync_engine.entrypoints.output import EXIT_OK, EXIT_PROBLEMS, UsageError, print_json
from sync_engine.errors import ConfigError, NotFoundError
from sync_engine.ports.records import StoredConflict
from sync_engine.services.plan_metadata import PLAN_FIELDS
from sync_engine.services.sync import DIRECTIONS, SyncScope
from sync_engine.services.write_backs import CommitOutcome


def settings_from(args: argparse.Namespace) -> Settings:
    flags = {
        "state_dir": getattr(args, "state_dir", None),
        "database_url": getattr(args, "database_url", None),
        "git_commit_write_backs": getattr(args, "git_commit", None),
    }
    try:
        return load_settings(getattr(args, "root", None), flags)
    except ConfigError as error:
        raise UsageError(str(error)) from error


@contextmanager
def _store(settings: Settings) -> Iterator[PostgresPlanStore]:
    store = bootstrap.open_store(settings)
    try:
        yield store
    finally:
        store.close()


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    if not enabled:
        return None, lambda: None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("syncing", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def command_sync(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not settings.root.is_dir():
        raise UsageError(f"{settings.root}: the plans root is not a folder")
    paths = [_root_relative(settings.root, path) for path in args.plans]
    update, stop = _progress_bar(sys.stderr.isatty() and not args.json)
    with _store(settings) as store, bootstrap.plan_analyser(settings) as analyser:
        sync = bootstrap.build_files_sync(settings, store, update, analyser)
        try:
            report = sync.run(
                bootstrap.sync_options(
                    settings, args.dry_run, args.allow_mass_delete, args.direction
                ),
                SyncScope(paths=frozenset(paths)) if paths else None,
            )
        finally:
            stop()
            sync.close()
    counts = report.counts
    data: dict[str, Any] = {
        "files_scanned": counts.files_scanned,
        "files_changed": counts.files_changed,
        "tasks_created": counts.tasks_created,
        "tasks_updated": counts.tasks_updated,
        "tasks_deleted": counts.tasks_deleted,
        "conflicts_opened": counts.conflicts_opened,
        "written_back": counts.written_back,
        "duration_s": report.duration_s,
    }
    commit = _commit_dict(report.commit)
    if args.json:
        data["plans_deleted"] = counts.plans_deleted
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in counts.skipped]
        data["refused"] = counts.refused
        data["dry_run"] = args.dry_run
        data["git_commit"] = commit
        data["not_found"] = report.not_found
        if args.dry_run:
            data["changes"] = report.changes
        print_json(data)
    else:
        if args.dry_run:
            print("dry run: nothing was changed")
            for line in report.changes:
                print(f"  would {line}")
        print(
            f"{counts.files_scanned} plans scanned, {counts.files_changed} changed: "
            f"+{counts.tasks_created} ~{counts.tasks_updated} -{counts.tasks_deleted} tasks, "
            f"{counts.written_back} files written back, {counts.conflicts_opened} conflicts "
            f"opened in {report.duration_s:.2f}s"
        )
        for skipped in counts.skipped:
            print(f"  skipped {skipped.path}: {skipped.reason}")
        for message in counts.refused:
            print(f"  {message}")
        for path in report.not_found:
            print(f"  no plan at {path} (no plan file there, none stored)")
        _print_commit(commit)
    return EXIT_PROBLEMS if report.has_problems or report.not_found else EXIT_OK


def _root_relative(root: Path, path: str) -> str:
    """A plan path as the sync names it: relative to the root, ``/``-separated. Given
    relative to the root, or absolute, or relative to the working folder (a file there,
    inside the root, when the root holds no file at the path)."""
    base = root.resolve()
    given = PurePath(path)
    full = Path(os.path.normpath(given if given.is_absolute() else base / given))
    from_here = Path(os.path.abspath(given))
    if not full.exists() and from_here.is_file() and from_here.is_relative_to(base):
        full = from_here
    try:
        relative = full.relative_to(base)
    except ValueError:
        raise UsageError(f"{path}: not inside the plans root {base}") from None
    if not relative.parts:
        raise UsageError(f"{path}: the plans root itself, not a plan")
    return relative.as_posix()


def _commit_dict(outcome: CommitOutcome | None) -> dict[str, Any] | None:
    """The commit of the files written back (``None``: none was asked for, or nothing was
    written back, or the root is not in a git work tree)."""
    if outcome is None:
        return None
    made = outcome.commit
    return {
        "commit": made.commit if made is not None else None,
        "files": list(made.committed) if made is not None else [],
        "left_out": list(made.left_out) if made is not None else [],
        "error": outcome.error,
    }


def _print_commit(commit: dict[str, Any] | None) -> None:
    if commit is None:
        return
    if commit["error"] is not None:
        print(f"  not committed (the files and the database are synced): {commit['error']}")
    elif commit["commit"] is not None:
        print(f"  committed {commit['commit'][:12]}: {', '.join(commit['files'])}")
    if commit["left_out"]:
        print(f"  not committed (git's HEAD does not hold them): {', '.join(commit['left_out'])}")


def _task_dict(task: TaskView) -> dict[str, Any]:
    return {
        "id": task.id,
        "plan": task.plan,
        "phase": task.phase,
        "phase_title": task.phase_title,
        "text": task.text,
        "status": task.status,
        "line": task.line,
    }


def command_tasks_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        tasks = store.list_tasks(root.id, args.plan, args.status)
    if args.json:
        print_json([_task_dict(task) for task in tasks])
        return EXIT_OK
    for task in tasks:
        phase = f"P{task.phase}" if task.phase is not None else "-"
        print(f"{task.id[:8]}  {task.status:<11} {task.plan}:{task.line} {phase}  {task.text}")
    print(f"{len(tasks)} tasks")
    return EXIT_OK


def command_tasks_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        try:
            task = store.get_task(root.id, args.id)
        except NotFoundError as error:
            print(f"sync-engine: {error}", file=sys.stderr)
            return EXIT_PROBLEMS
    return _print_record(_task_dict(task), args.json)


def _task_id(store: PostgresPlanStore, root_id: str, reference: str) -> str:
    return store.get_task(root_id, reference).id


def command_tasks_update(args: argparse.Namespace) -> int:
    if args.status is None and args.text is None:
        raise UsageError("tasks update: give --status and/or --text")
    settings = settings_from(args)
    if args.status is not None and args.status not in settings.status_table().names():
        known = ", ".join(settings.status_table().names())
        raise UsageError(f"tasks update: unknown status {args.status!r}; known: {known}")
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        task_id = _task_id(store, root.id, args.id)
        store.update_task(task_id, status=args.status, text=args.text)
        task = store.get_task(root.id, task_id)
    return _print_record(_task_dict(task), args.json)


def command_tasks_add(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not args.text.strip() or "\n" in args.text:
        raise UsageError("tasks add: --text must be one non-empty line")
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        after = _task_id(store, root.id, args.after) if args.after else None
        task_id = store.add_task(
            root.id, args.plan.replace("\\", "/"), args.text, phase=args.phase, after=after
        )
        task = store.get_task(root.id, task_id)
    return _print_record(_task_dict(task), args.json)


def command_tasks_move(args: argparse.Namespace) -> int:
    places = [
        name
        for name, given in (("--after", args.after), ("--parent", args.parent), ("--top", args.top))
        if given
    ]
    if len(places) > 1 or (places and places != ["--top"] and args.phase is not None):
        shown = " and ".join([*places, *(["--phase"] if args.phase is not None else [])])
        raise UsageError(f"tasks move: {shown} name different places; give one")
    if not places and args.phase is None:
        raise UsageError("tasks move: give --after, --parent, --phase or --top")
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        task_id = _task_id(store, root.id, args.id)
        after = _task_id(store, root.id, args.after) if args.after else None
        parent = _task_id(store, root.id, args.parent) if args.parent else None
        if task_id in (after, parent):
            raise UsageError("tasks move: a task cannot go after or under itself")
        store.move_task(task_id, after=after, parent=parent, phase=args.phase)
        task = store.get_task(root.id, task_id)
    return _print_record(_task_dict(task), args.json)


def command_tasks_delete(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        task = store.get_task(root.id, args.id)
        store.delete_task(task.id)
    if args.json:
        print_json({"id": task.id, "deleted": True})
    else:
        print(f"deleted {task.id} ({task.plan}:{task.line}); the next sync removes its lines")
    return EXIT_OK


def _print_record(data: dict[str, Any], as_json: bool) -> int:
    """One task or conflict: JSON, or one ``key: value`` line per field."""
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            print(f"{key:>12}: {value}")
    return EXIT_OK


def _conflict_dict(conflict: StoredConflict) -> dict[str, Any]:
    return {
        "id": conflict.id,
        "plan": conflict.plan,
        "task_id": conflict.task_id,
        "type": conflict.type,
        "severity": conflict.severity,
        "status": conflict.status,
        "field": conflict.field,
        "base": conflict.base,
        "markdown": conflict.markdown,
        "database": conflict.database,
    }


def _conflict_details(conflict: StoredConflict) -> dict[str, Any]:
    data = _conflict_dict(conflict)
    data.update(
        created_at=conflict.created_at.isoformat(),
        resolved_at=conflict.resolved_at.isoformat() if conflict.resolved_at else None,
        resolved_by=conflict.resolved_by,
        resolution=conflict.resolution,
        applied_at=conflict.applied_at.isoformat() if conflict.applied_at else None,
    )
    return data


def command_conflicts_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        conflicts = store.list_conflicts(root.id, args.status)
    if args.json:
        print_json([_conflict_dict(conflict) for conflict in conflicts])
        return EXIT_OK
    for conflict in conflicts:
        print(
            f"{conflict.id[:8]}  {conflict.status:<8} {conflict.severity:<6} {conflict.type:<19}"
            f" {conflict.plan} {conflict.field}: markdown={conflict.markdown!r}"
            f" database={conflict.database!r}"
        )
    print(f"{len(conflicts)} conflicts")
    return EXIT_OK


def command_conflicts_show(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        conflict = store.get_conflict(root.id, args.id)
    return _print_record(_conflict_details(conflict), args.json)


def command_conflicts_resolve(args: argparse.Namespace) -> int:
    if args.take == "custom" and args.value is None:
        raise UsageError("conflicts resolve: --take custom needs --value")
    if args.take != "custom" and args.value is not None:
        raise UsageError("conflicts resolve: --value goes with --take custom")
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        conflict = store.get_conflict(root.id, args.id)
        if conflict.status != "open":
            print(f"sync-engine: conflict {conflict.id} is already settled", file=sys.stderr)
            return EXIT_PROBLEMS
        if args.take == "custom" and not _takes_text(conflict.field):
            raise UsageError(
                f"conflicts resolve: a custom value settles a status, a text or a title, "
                f"version or date, not {conflict.field!r}"
            )
        resolution = {"take": args.take, "value": args.value}
        store.resolve_conflict(conflict.id, resolution, actor=args.actor)
        settled = store.get_conflict(root.id, conflict.id)
    if args.json:
        print_json(_conflict_details(settled))
    else:
        print(f"settled {settled.id}: {args.take}; the next sync applies it to both sides")
    return EXIT_OK


def _takes_text(field: str | None) -> bool:
    """Whether a conflict on this field may be settled with a value of one's own."""
    if field in ("status", "text", *PLAN_FIELDS):
        return True
    return field is not None and field.startswith("phases[") and field.endswith("].title")


def command_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _store(settings) as store:
        root = store.ensure_root(str(settings.root))
        summary = store.summary(root.id)
    data = {
        "root": str(settings.root),
        "plans": summary.plans,
        "tasks": summary.tasks,
        "tasks_by_status": summary.tasks_by_status,
        "skipped": [{"path": skip.path, "reason": skip.reason} for skip in summary.skipped],
        "last_sync": summary.last_sync_at.isoformat() if summary.last_sync_at else None,
    }
    if args.json:
        print_json(data)
    else:
        print(f"root {data['root']}: {summary.plans} plans, {summary.tasks} tasks")
        for status, count in summary.tasks_by_status.items():
            print(f"  {status:<12} {count}")
        for skip in summary.skipped:
            print(f"  skipped {skip.path}: {skip.reason}")
        print(f"last sync: {data['last_sync'] or 'never'}")
    return EXIT_PROBLEMS if summary.skipped else EXIT_OK


def command_db(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.db_command == "migrate":
        applied = migrate_database(bootstrap.database_url(settings))
        if args.json:
            print_json({"applied": applied})
        else:
            print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return EXIT_OK
    if settings.database_url and args.db_command in ("stop", "status"):
        raise UsageError(f"'db {args.db_command}' manages the embedded server only")
    if args.db_command == "url":
        print(bootstrap.database_url(settings))
        return EXIT_OK
    server = bootstrap.embedded_postgres(settings)
    if args.db_command == "stop":
        stopped = server.stop()
        print("stopped" if stopped else "not running")
        return EXIT_OK
    status = server.status()
    data = {
        "running": status.running,
        "pid": status.pid,
        "url": status.url,
        "data_dir": str(status.data_dir),
        "version": status.version,
    }
    if args.json:
        print_json(data)
    else:
        for key, value in data.items():
            print(f"{key:>9}: {value}")
    return EXIT_OK


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="the plans root (default: the current folder)")
    parser.add_argument("--state-dir", help="the state folder (default: ROOT/.sync-engine)")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: embedded server)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def register(commands: Any) -> None:
    sync = commands.add_parser("sync", help="bring the database in step with the plan files")
    add_store_options(sync)
    sync.add_argument(
        "plans",
        nargs="*",
        metavar="PLAN",
        help="only these plans (paths relative to the root): their files are read whatever "
        "their stat says, and a plan whose file is gone is deleted; default: every plan",
    )
    sync.add_argument("--no-index", action="store_true", help="skip the semantic index")
    sync.add_argument("--dry-run", action="store_true", help="show what would change")
    sync.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="let more than half of the plans or of a plan's tasks be deleted",
    )
    sync.add_argument(
        "--direction",
        choices=DIRECTIONS,
        default="both",
        help="both (default); to-db: files to the database only; to-files: the other way",
    )
    sync.add_argument(
        "--git-commit",
        action=argparse.BooleanOptionalAction,
        help="commit the files written back (default: the git_commit_write_backs setting)",
    )
    sync.set_defaults(handler=command_sync)

    tasks = commands.add_parser("tasks", help="read and edit tasks in the database")
    task_commands = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    task_commands.required = True
    listing = task_commands.add_parser("list", help="list tasks")
    add_store_options(listing)
    listing.add_argument("--plan", help="only this plan (path relative to the root)")
    listing.add_argument("--status", help="only this status (todo, done, …)")
    listing.set_defaults(handler=command_tasks_list)
    show = task_commands.add_parser("show", help="one task by id or unique id prefix")
    add_store_options(show)
    show.add_argument("id")
    show.set_defaults(handler=command_tasks_show)
    update = task_commands.add_parser("update", help="change a task's status and/or text")
    add_store_options(update)
    update.add_argument("id")
    update.add_argument("--status", help="todo, done, in_progress, …")
    update.add_argument("--text", help="the new text (one line)")
    update.set_defaults(handler=command_tasks_update)
    add = task_commands.add_parser("add", help="add a task to a plan")
    add_store_options(add)
    add.add_argument("--plan", required=True, help="the plan (path relative to the root)")
    add.add_argument("--phase", type=int, help="at the end of this phase (its number)")
    add.add_argument("--after", help="right after this task (id or prefix)")
    add.add_argument("--text", required=True, help="the task's text")
    add.set_defaults(handler=command_tasks_add)
    move = task_commands.add_parser(
        "move", help="move a task (with its sub-tasks) to another place of its plan"
    )
    add_store_options(move)
    move.add_argument("id")
    move.add_argument("--after", help="right after this task and its sub-tasks, at its level")
    move.add_argument("--parent", help="as the last sub-task of this task")
    move.add_argument("--phase", type=int, help="at the end of this phase (its number)")
    move.add_argument(
        "--top", action="store_true", help="as a top-level task, at the end of its phase"
    )
    move.set_defaults(handler=command_tasks_move)
    delete = task_commands.add_parser("delete", help="delete a task")
    add_store_options(delete)
    delete.add_argument("id")
    delete.set_defaults(handler=command_tasks_delete)

    conflicts = commands.add_parser("conflicts", help="conflicts waiting for a person")
    conflict_commands = conflicts.add_subparsers(dest="conflicts_command", metavar="ACTION")
    conflict_commands.required = True
    listing = conflict_commands.add_parser("list", help="list conflicts")
    add_store_options(listing)
    listing.add_argument("--status", choices=("open", "resolved"), help="only these")
    listing.set_defaults(handler=command_conflicts_list)
    show = conflict_commands.add_parser("show", help="one conflict by id or unique prefix")
    add_store_options(show)
    show.add_argument("id")
    show.set_defaults(handler=command_conflicts_show)
    resolve = conflict_commands.add_parser("resolve", help="settle a conflict")
    add_store_options(resolve)
    resolve.add_argument("id")
    resolve.add_argument("--take", required=True, choices=("markdown", "database", "custom"))
    resolve.add_argument("--value", help="the value, with --take custom")
    resolve.add_argument(
        "--actor", default=_default_actor(), help="who settles it (default: the user name)"
    )
    resolve.set_defaults(handler=command_conflicts_resolve)

    status = commands.add_parser("status", help="plans, tasks, skipped plans, last sync")
    add_store_options(status)
    status.set_defaults(handler=command_status)

    db = commands.add_parser("db", help="the database: migrate, url, status, stop")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_commands.required = True
    for name, text in (
        ("migrate", "apply pending migrations"),
        ("url", "print the URL"),
        ("status", "the embedded server's state"),
        ("stop", "stop it"),
    ):
        sub = db_commands.add_parser(name, help=text)
        add_store_options(sub)
        sub.set_defaults(handler=command_db)


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


__all__ = ["register"]
