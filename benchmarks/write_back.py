"""Database → files: edits made in PostgreSQL written back to the plan files by the next sync,
side by side with edits made in the files.

    .venv/bin/python benchmarks/write_back.py [--plans 1000] [--repeat 5] [--seed 1]
        [--batch-plans 100] [--profile]

Generates ``--plans`` plans (``benchmarks/generate.py``) in a temporary folder, starts one
embedded PostgreSQL server for the whole benchmark and cold-syncs the plans once with
``sync-engine sync --no-index --json`` (a whole process, as every sync here). Then,
``--repeat`` times, interleaved so that a noisy machine affects every row alike, each on
plans of its own:

* one status change by plain SQL (``UPDATE tasks SET status = 'done' …``, as in
  docs/database.md), then the sync that writes it to the file;
* one status change by ``sync-engine tasks update ID --status done``, then the sync;
* one status change by plain SQL written back by an engine that keeps running: the store,
  its connections and the sync are made once, in this process, listening for the
  database's announcements (``NOTIFY``); each change is heard as its plan's id and that
  plan alone is synced by a call of the sync service (as a long-running engine does; no
  process start, no folder listing), after 10 such write-backs not measured (warm caches),
  5 times a round;
* files → database for comparison: one checkbox ticked in one file, then the sync;
* 1,000 database-side edits over ``--batch-plans`` plans, 10 a plan (5 status changes,
  3 text changes, one inserted task, one deleted task, in one SQL transaction), then the sync
  that writes them all back, then a second sync that must change nothing;
* files → database for comparison: 10 checkboxes flipped in each of as many other files,
  then the sync.

Every sync is checked, and a wrong result fails the benchmark: a single write-back must
change exactly one line of one file (the checkbox, every other byte as it was); the batch
must change exactly the expected lines of exactly its plans, and its second sync nothing.

Each figure is the median of the runs: the whole command's wall time and the engine's own
time (``duration_s`` of the sync's JSON: the sync itself, without the process start, the
imports and the connection). A ratio is the median of the ratios of the same run. The
targets: one database-side change written back in ≤ 50 ms of engine time. Prints a table and
writes ``benchmarks/results/write_back.json`` (``write_back-N-plans.json`` for another
``--plans``). The load average of the machine after each run is printed and kept with the
figures: on a shared machine it says how far they can be trusted.

``--profile``: after the cold sync, profiles (cProfile) one write-back sync run in-process
instead of measuring, prints where its time goes and writes
``benchmarks/results/write_back.prof``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from generate import generate
from sync import (
    ENGINE,
    BenchmarkError,
    BenchServer,
    Run,
    check_engine,
    engine_command,
    run,
    run_engine,
    summary,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BENCH_DATABASE = "write_back_bench"
TARGET_ENGINE_S = 0.050
DEFAULT_PLANS = 1000
# The edits of one plan in the batch: status changes, text changes, inserts, deletes.
STATUS_EDITS, TEXT_EDITS, INSERTS, DELETES = 5, 3, 1, 1
EDITS_PER_PLAN = STATUS_EDITS + TEXT_EDITS + INSERTS + DELETES
FILE_EDITS_PER_PLAN = 10
TEXT_SUFFIX = " (revu en base)"

# Leaf tasks on a single line: changing, removing or inserting after one touches one line.
LEAF_TASKS = """
SELECT p.path, t.id::text, t.line, t.status, t.text
FROM tasks AS t JOIN plans AS p ON p.id = t.plan_id
WHERE p.path = ANY(%(paths)s) AND p.deleted_at IS NULL AND t.deleted_at IS NULL
  AND t.end_line = t.line AND t.status IN ('todo', 'done')
  AND NOT EXISTS (
      SELECT FROM tasks AS c
      WHERE c.plan_id = t.plan_id AND c.parent_id = t.id AND c.deleted_at IS NULL)
ORDER BY p.path, t.position
"""
SET_STATUS = "UPDATE tasks SET status = %s WHERE id = %s"
SET_TEXT = "UPDATE tasks SET text = %s WHERE id = %s"
INSERT_AFTER = """
INSERT INTO tasks (plan_id, phase_id, position, text)
SELECT plan_id, phase_id, position + 1, %s FROM tasks WHERE id = %s
"""
DELETE = "DELETE FROM tasks WHERE id = %s"
PLAN_OF_TASK = "SELECT plan_id FROM tasks WHERE id = %s"
# Write-backs made by the running engine before its measured ones, and measured each round
# (it takes milliseconds: more samples of it, spread over the whole run).
WARM_UP_WRITE_BACKS = 10
RUNNING_PER_ROUND = 5
PENDING = "SELECT count(*) FROM change_log WHERE consumed_at IS NULL"


@dataclass(frozen=True, slots=True)
class Leaf:
    """A leaf task as the database has it after the last sync."""

    path: str
    id: str
    line: int
    status: str
    text: str


def flipped(line: bytes, status: str) -> bytes:
    """``line`` with its checkbox set to the other of todo / done."""
    old, new = (b"[ ]", b"[x]") if status == "todo" else (b"[x]", b"[ ]")
    if old not in line:
        raise BenchmarkError(f"expected {old!r} in {line!r}")
    return line.replace(old, new, 1)


def other_status(status: str) -> str:
    return "done" if status == "todo" else "todo"


def with_text(line: bytes, text: str) -> bytes:
    """``line`` with the text after its checkbox replaced (the line ending kept)."""
    ending = b"\r" if line.endswith(b"\r") else b""
    start = line.index(b"] ") + 2
    return line[:start] + text.encode("utf-8") + ending


class Bench:
    """The synced plans folder, its database and the sync command."""

    def __init__(self, plans_dir: Path, state_dir: Path, url: str) -> None:
        self.plans_dir = plans_dir
        self.state_dir = state_dir
        self.url = url
        self.command = engine_command(plans_dir, state_dir, url)
        self.paths = sorted(p.relative_to(plans_dir).as_posix() for p in plans_dir.rglob("*.md"))

    def sync(self, what: str) -> tuple[Run, dict[str, Any]]:
        result, report = run_engine(self.command, what)
        if report["exit_code"] != 0:
            raise BenchmarkError(f"{what}: the sync reported problems: {report}")
        return result, report

    def snapshot(self) -> dict[str, bytes]:
        return {path: (self.plans_dir / path).read_bytes() for path in self.paths}

    def leaves(self, paths: Sequence[str]) -> dict[str, list[Leaf]]:
        found: dict[str, list[Leaf]] = {path: [] for path in paths}
        with psycopg.connect(self.url) as connection:
            rows = connection.execute(LEAF_TASKS, {"paths": list(paths)}).fetchall()
        for path, task_id, line, status, text in rows:
            found[path].append(Leaf(path, task_id, line, status, text))
        for path, leaves in found.items():
            if len(leaves) < EDITS_PER_PLAN + INSERTS:
                raise BenchmarkError(f"{path}: only {len(leaves)} leaf tasks to edit")
        return found

    def pending(self) -> int:
        with psycopg.connect(self.url) as connection:
            row = connection.execute(PENDING).fetchone()
        return int(row[0]) if row else 0

    def tasks_update(self, task_id: str) -> Run:
        command = [
            *ENGINE, "tasks", "update", task_id, "--status", "done", "--json",
            "--root", str(self.plans_dir), "--state-dir", str(self.state_dir),
            "--database-url", self.url,
        ]  # fmt: skip
        result = run(command)
        if result.returncode != 0:
            raise BenchmarkError(f"tasks update failed: {result.stderr or result.stdout}")
        return result


class PlanPicker:
    """Plans in a shuffled order, handed out in turn so that each measure edits plans of
    its own (starting over when all were used)."""

    def __init__(self, paths: Sequence[str], seed: int) -> None:
        self._paths = list(paths)
        random.Random(seed).shuffle(self._paths)
        self._next = 0

    def todo_leaf(self, bench: Bench) -> Leaf:
        """A leaf task still to do, in the next plan that has one."""
        for _ in range(len(self._paths)):
            path = self.take(1)[0]
            found = [leaf for leaf in bench.leaves([path])[path] if leaf.status == "todo"]
            if found:
                return found[0]
        raise BenchmarkError("no plan has a leaf task left to do")

    def take(self, count: int) -> list[str]:
        taken = [self._paths[(self._next + i) % len(self._paths)] for i in range(count)]
        self._next += count
        return taken


# -- checks ------------------------------------------------------------------------------------


def changed_paths(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


def check_one_line(
    what: str, before: dict[str, bytes], after: dict[str, bytes], leaf: Leaf
) -> None:
    """Exactly one line of one file changed: the task's checkbox."""
    changed = changed_paths(before, after)
    if changed != [leaf.path]:
        raise BenchmarkError(f"{what}: expected only {leaf.path} to change, changed: {changed}")
    old, new = before[leaf.path].split(b"\n"), after[leaf.path].split(b"\n")
    differing = [i + 1 for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
    if len(old) != len(new) or differing != [leaf.line]:
        raise BenchmarkError(
            f"{what}: expected line {leaf.line} of {leaf.path} alone to change; "
            f"{len(old)} → {len(new)} lines, changed lines {differing[:10]}"
        )
    expected = flipped(old[leaf.line - 1], leaf.status)
    if new[leaf.line - 1] != expected:
        raise BenchmarkError(
            f"{what}: line {leaf.line} is {new[leaf.line - 1]!r}, not {expected!r}"
        )


def check_nothing_changed(
    what: str, report: dict[str, Any], before: dict[str, bytes], after: dict[str, bytes]
) -> None:
    busy = {
        key: report[key]
        for key in ("files_changed", "tasks_created", "tasks_updated", "tasks_deleted",
                    "written_back", "conflicts_opened")
        if report[key]
    }  # fmt: skip
    changed = changed_paths(before, after)
    if busy or changed:
        raise BenchmarkError(f"{what}: expected no change; reported {busy}, files {changed[:5]}")


@dataclass(slots=True)
class BatchEdits:
    """The edits of the batch and the lines they must remove from and add to each file."""

    status: list[tuple[str, str]]  # (new status, id)
    text: list[tuple[str, str]]  # (new text, id)
    insert: list[tuple[str, str]]  # (text, id of the task it follows)
    delete: list[tuple[str]]
    removed: dict[str, Counter[bytes]]
    added: dict[str, Counter[bytes]]
    inserted: dict[str, list[str]]

    @property
    def count(self) -> int:
        return len(self.status) + len(self.text) + len(self.insert) + len(self.delete)


def plan_batch(
    leaves: dict[str, list[Leaf]], snapshot: dict[str, bytes], rng: random.Random, tag: str
) -> BatchEdits:
    edits = BatchEdits([], [], [], [], {}, {}, {})
    for number, (path, candidates) in enumerate(sorted(leaves.items())):
        lines = snapshot[path].split(b"\n")
        chosen = rng.sample(candidates, EDITS_PER_PLAN + INSERTS)
        status, rest = chosen[:STATUS_EDITS], chosen[STATUS_EDITS:]
        text, rest = rest[:TEXT_EDITS], rest[TEXT_EDITS:]
        deleted, anchors = rest[:DELETES], rest[DELETES:]
        removed: Counter[bytes] = Counter()
        added: Counter[bytes] = Counter()
        for leaf in status:
            old = lines[leaf.line - 1]
            edits.status.append((other_status(leaf.status), leaf.id))
            removed[old] += 1
            added[flipped(old, leaf.status)] += 1
        for leaf in text:
            old = lines[leaf.line - 1]
            new_text = leaf.text + TEXT_SUFFIX
            edits.text.append((new_text, leaf.id))
            removed[old] += 1
            added[with_text(old, new_text)] += 1
        for leaf in deleted:
            edits.delete.append((leaf.id,))
            removed[lines[leaf.line - 1]] += 1
        inserted = []
        for index, leaf in enumerate(anchors[:INSERTS]):
            new_text = f"Contrôler la reprise ajoutée en SQL {tag}.{number}.{index} 🧪"
            edits.insert.append((new_text, leaf.id))
            inserted.append(new_text)
        edits.removed[path], edits.added[path], edits.inserted[path] = removed, added, inserted
    return edits


def apply_batch(url: str, edits: BatchEdits) -> float:
    """The edits in one transaction, as another program would make them; its seconds."""
    start = time.perf_counter()
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        cursor.executemany(SET_STATUS, edits.status)
        cursor.executemany(SET_TEXT, edits.text)
        cursor.executemany(INSERT_AFTER, edits.insert)
        cursor.executemany(DELETE, edits.delete)
    return time.perf_counter() - start


def check_batch(edits: BatchEdits, before: dict[str, bytes], after: dict[str, bytes]) -> int:
    """Each plan of the batch lost and gained exactly the expected lines, no other file
    changed; returns the number of lines removed and added."""
    changed = changed_paths(before, after)
    if changed != sorted(edits.removed):
        unexpected = sorted(set(changed) ^ set(edits.removed))
        raise BenchmarkError(f"batch: the files changed are not the plans edited: {unexpected[:5]}")
    lines = 0
    for path in changed:
        old, new = before[path].split(b"\n"), after[path].split(b"\n")
        gone, came = Counter(old) - Counter(new), Counter(new) - Counter(old)
        added = Counter(edits.added[path])
        for text in edits.inserted[path]:
            pattern = re.compile(rb" *- \[ \] " + re.escape(text.encode("utf-8")) + rb"\r?")
            found = [line for line in came if pattern.fullmatch(line)]
            if len(found) != 1:
                raise BenchmarkError(f"batch: {path}: the inserted task {text!r} is not one line")
            added[found[0]] += 1
        removed = edits.removed[path]
        if len(old) != len(new) or gone != removed or came != added:
            raise BenchmarkError(
                f"batch: {path}: {len(old)} → {len(new)} lines; removed {dict(gone - removed)} "
                f"unexpectedly, missing removals {dict(removed - gone)}; added "
                f"{dict(came - added)} unexpectedly, missing {dict(added - came)}"
            )
        lines += sum(gone.values()) + sum(came.values())
    return lines


def flip_in_files(bench: Bench, leaves: dict[str, list[Leaf]], rng: random.Random) -> int:
    """Flip the checkbox of ``FILE_EDITS_PER_PLAN`` leaf tasks in each file; tasks flipped."""
    flipped_tasks = 0
    for path, candidates in leaves.items():
        file = bench.plans_dir / path
        lines = file.read_bytes().split(b"\n")
        for leaf in rng.sample(candidates, FILE_EDITS_PER_PLAN):
            lines[leaf.line - 1] = flipped(lines[leaf.line - 1], leaf.status)
            flipped_tasks += 1
        file.write_bytes(b"\n".join(lines))
    return flipped_tasks


def expect(what: str, report: dict[str, Any], **wanted: int) -> None:
    found = {key: report.get(key) for key in wanted}
    if found != wanted:
        raise BenchmarkError(f"{what}: the sync reported {found}, expected {wanted}")


# -- one repeat --------------------------------------------------------------------------------


@dataclass(slots=True)
class Runs:
    """Wall time and engine time of each measure, run by run."""

    wall: dict[str, list[float]]
    engine: dict[str, list[float]]
    other: dict[str, list[float]]
    reports: dict[str, list[dict[str, Any]]]

    def add(self, name: str, result: Run, report: dict[str, Any]) -> None:
        self.wall.setdefault(name, []).append(result.seconds)
        self.engine.setdefault(name, []).append(float(report["duration_s"]))
        self.reports.setdefault(name, []).append(report)


ONE_SQL = "one status change, SQL UPDATE → file"
ONE_CLI = "one status change, `tasks update` → file"
ONE_WARM = "one status change, SQL → file, running engine"
ONE_FILE = "one checkbox ticked in a file → DB"
BATCH = "batch edits in the DB → files"
BATCH_NOOP = "second sync after the batch (no-op)"
FILES_BATCH = "batch of file edits → DB"
SHORT = {
    ONE_SQL: "SQL",
    ONE_CLI: "tasks update",
    ONE_WARM: "SQL, running engine",
    ONE_FILE: "file edit",
    BATCH: "batch",
    BATCH_NOOP: "no-op",
    FILES_BATCH: "file batch",
}


def one_write_back(bench: Bench, runs: Runs, picker: PlanPicker, via_cli: bool) -> None:
    name = ONE_CLI if via_cli else ONE_SQL
    leaf = picker.todo_leaf(bench)
    before = bench.snapshot()
    if via_cli:
        runs.other.setdefault("`tasks update` command (wall)", []).append(
            bench.tasks_update(leaf.id).seconds
        )
    else:
        with psycopg.connect(bench.url) as connection:
            connection.execute(SET_STATUS, ("done", leaf.id))
    result, report = bench.sync(name)
    expect(name, report, written_back=1, files_changed=0, tasks_created=0, tasks_deleted=0)
    check_one_line(name, before, bench.snapshot(), leaf)
    runs.add(name, result, report)


class RunningEngine:
    """The engine made once in this process (settings, store, analyser, sync) and listening
    for the database's announcements: what a long-running engine does. Each SQL edit is
    heard as its plan's id, and the sync of that plan alone (``SyncScope``) is measured.
    ``WARM_UP_WRITE_BACKS`` write-backs are made first and not measured: a running
    engine's caches (the server's and this process's) are warm."""

    def __init__(self, bench: Bench) -> None:
        from sync_engine import bootstrap
        from sync_engine.adapters.postgres.notifications import DatabaseChangeListener
        from sync_engine.config import load_settings

        settings = load_settings(
            bench.plans_dir, {"state_dir": str(bench.state_dir), "database_url": bench.url}
        )
        self._store = bootstrap.open_store(settings)
        self._analyser = bootstrap.plan_analyser(settings)
        self._sync = bootstrap.build_files_sync(settings, self._store, None, self._analyser)
        self._options = bootstrap.sync_options(settings, dry_run=False, allow_mass_delete=False)
        self._listener = DatabaseChangeListener(bench.url)
        self._listener.open()

    def forget_announced(self) -> None:
        """Drop the announcements of edits that other rows' syncs wrote back (a running
        engine would have synced them as they came; here the one-shot commands did)."""
        while self._listener.wait(0):
            pass

    def sync_announced(self, what: str, plan_id: str) -> tuple[Run, dict[str, Any]]:
        """Wait for the announcement of ``plan_id``'s edit; sync the plans announced."""
        from sync_engine.services.sync import SyncScope

        heard: set[str] = set()
        deadline = time.monotonic() + 10
        while plan_id not in heard and time.monotonic() < deadline:
            heard |= self._listener.wait(max(0.0, deadline - time.monotonic()))
        if plan_id not in heard:
            raise BenchmarkError(f"{what}: the edit of plan {plan_id} was not announced")
        start = time.perf_counter()
        report = self._sync.run(self._options, SyncScope(plan_ids=frozenset(heard)))
        seconds = time.perf_counter() - start
        data = {
            "written_back": report.counts.written_back,
            "files_changed": report.counts.files_changed,
            "tasks_created": report.counts.tasks_created,
            "tasks_deleted": report.counts.tasks_deleted,
            "duration_s": report.duration_s,
        }
        return Run(seconds, 0, 0, "", ""), data

    def close(self) -> None:
        self._listener.close()
        self._sync.close()
        self._analyser.close()
        self._store.close()


def one_running_write_back(
    bench: Bench, runs: Runs | None, picker: PlanPicker, engine: RunningEngine
) -> None:
    """One SQL status change synced by the running engine (measured unless ``runs`` is
    ``None``: a warm-up)."""
    leaf = picker.todo_leaf(bench)
    before = bench.snapshot()
    engine.forget_announced()
    with psycopg.connect(bench.url) as connection:
        connection.execute(SET_STATUS, ("done", leaf.id))
        row = connection.execute(PLAN_OF_TASK, (leaf.id,)).fetchone()
    assert row is not None
    result, report = engine.sync_announced(ONE_WARM, str(row[0]))
    expect(ONE_WARM, report, written_back=1, files_changed=0, tasks_created=0, tasks_deleted=0)
    check_one_line(ONE_WARM, before, bench.snapshot(), leaf)
    if runs is not None:
        runs.add(ONE_WARM, result, report)


def one_file_edit(bench: Bench, runs: Runs, picker: PlanPicker) -> None:
    leaf = picker.todo_leaf(bench)
    file = bench.plans_dir / leaf.path
    lines = file.read_bytes().split(b"\n")
    lines[leaf.line - 1] = flipped(lines[leaf.line - 1], leaf.status)
    file.write_bytes(b"\n".join(lines))
    before = bench.snapshot()
    result, report = bench.sync(ONE_FILE)
    expect(ONE_FILE, report, files_changed=1, tasks_updated=1, written_back=0)
    if changed_paths(before, bench.snapshot()):
        raise BenchmarkError(f"{ONE_FILE}: the sync changed a file")
    runs.add(ONE_FILE, result, report)


def batch_write_back(
    bench: Bench, runs: Runs, picker: PlanPicker, plans: int, rng: random.Random, tag: str
) -> None:
    paths = picker.take(plans)
    before = bench.snapshot()
    edits = plan_batch(bench.leaves(paths), before, rng, tag)
    runs.other.setdefault("applying the batch's SQL (one transaction)", []).append(
        apply_batch(bench.url, edits)
    )
    result, report = bench.sync(BATCH)
    expect(BATCH, report, written_back=plans, files_changed=0)
    after = bench.snapshot()
    lines = check_batch(edits, before, after)
    runs.other.setdefault("batch: lines removed + added", []).append(float(lines))
    if bench.pending():
        raise BenchmarkError(f"{BATCH}: change-log entries are left unconsumed")
    runs.add(BATCH, result, report)
    result, report = bench.sync(BATCH_NOOP)
    check_nothing_changed(BATCH_NOOP, report, after, bench.snapshot())
    runs.add(BATCH_NOOP, result, report)


def batch_file_edits(
    bench: Bench, runs: Runs, picker: PlanPicker, plans: int, rng: random.Random
) -> None:
    paths = picker.take(plans)
    tasks = flip_in_files(bench, bench.leaves(paths), rng)
    before = bench.snapshot()
    result, report = bench.sync(FILES_BATCH)
    expect(FILES_BATCH, report, files_changed=plans, tasks_updated=tasks, written_back=0)
    if changed_paths(before, bench.snapshot()):
        raise BenchmarkError(f"{FILES_BATCH}: the sync changed a file")
    runs.add(FILES_BATCH, result, report)


# -- profiling -----------------------------------------------------------------------------------


def profile_write_back(bench: Bench, picker: PlanPicker) -> None:
    """One SQL status change written back by a sync run in this process under cProfile
    (after an unprofiled in-process sync, so that imports and first calls are done)."""
    from sync_engine.entrypoints.cli import main as cli_main

    def in_process_sync() -> dict[str, Any]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli_main(bench.command[3:])
        if code != 0:
            raise BenchmarkError(f"in-process sync exited {code}: {out.getvalue()}")
        report: dict[str, Any] = json.loads(out.getvalue())
        return report

    in_process_sync()
    leaf = picker.todo_leaf(bench)
    before = bench.snapshot()
    with psycopg.connect(bench.url) as connection:
        connection.execute(SET_STATUS, ("done", leaf.id))
    profiler = cProfile.Profile()
    profiler.enable()
    report = in_process_sync()
    profiler.disable()
    check_one_line("profiled write-back", before, bench.snapshot(), leaf)
    print(f"\nprofiled write-back sync: duration_s {report['duration_s']} (under cProfile)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "write_back.prof"
    profiler.dump_stats(out)
    for order in ("cumulative", "tottime"):
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(30)
        print(stream.getvalue())
    print(f"written {out.relative_to(ROOT)}")


# -- the whole benchmark ---------------------------------------------------------------------------


def paired_ratios(
    top: Sequence[float], bottom: Sequence[float], scale: float = 1.0
) -> dict[str, Any]:
    return summary([a / scale / b for a, b in zip(top, bottom, strict=True)])


def round_medians(values: Sequence[float], per_round: int) -> list[float]:
    """The median of each round's values (``per_round`` of them a round, in order)."""
    return [
        statistics.median(values[start : start + per_round])
        for start in range(0, len(values), per_round)
    ]


@contextlib.contextmanager
def bench_server(scratch: Path) -> Iterator[BenchServer]:
    server = BenchServer(scratch)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=DEFAULT_PLANS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-plans", type=int, default=100, help="plans edited by a batch")
    parser.add_argument("--profile", action="store_true", help="profile one write-back instead")
    args = parser.parse_args()
    if args.plans < 2 or args.repeat < 1 or args.batch_plans < 1:
        parser.error("--plans must be at least 2, --repeat and --batch-plans at least 1")
    args.batch_plans = min(args.batch_plans, args.plans // 2)
    try:
        engine_version = check_engine()
        with tempfile.TemporaryDirectory(prefix="sync-engine-write-back-") as scratch_name:
            results = measure(args, Path(scratch_name), engine_version)
    except BenchmarkError as error:
        print(f"write_back.py: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    if results is None:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A smaller run (a smoke test) does not overwrite the figures of the full one.
    name = "write_back" if args.plans == DEFAULT_PLANS else f"write_back-{args.plans}-plans"
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten {out.relative_to(ROOT)}")


def measure(args: argparse.Namespace, scratch: Path, engine_version: str) -> dict[str, Any] | None:
    plans_dir = scratch / "plans"
    start = time.perf_counter()
    stats = generate(plans_dir, args.plans, args.seed)
    print(
        f"plans: {stats.files} files, {stats.tasks} tasks, {stats.megabytes:.2f} MB "
        f"(seed {args.seed}, generated in {time.perf_counter() - start:.1f} s); "
        f"repeat {args.repeat}; sync-engine {engine_version}: {' '.join(ENGINE)}"
    )
    with bench_server(scratch) as server:
        print(f"embedded PostgreSQL {server.version}: first start {server.init_seconds:.2f} s")
        bench = Bench(plans_dir, scratch / "state", server.recreate(BENCH_DATABASE))
        cold, report = bench.sync("cold sync")
        expect("cold sync", report, files_scanned=stats.files, tasks_created=stats.tasks)
        print(f"cold sync: {cold.seconds:.2f} s (engine {report['duration_s']:.2f} s)")
        before = bench.snapshot()
        noop, report = bench.sync("no-op resync")
        check_nothing_changed("no-op resync", report, before, bench.snapshot())
        picker = PlanPicker(bench.paths, args.seed)
        if args.profile:
            profile_write_back(bench, picker)
            return None
        runs = Runs({}, {}, {}, {})
        engine = RunningEngine(bench)
        for _ in range(WARM_UP_WRITE_BACKS):
            one_running_write_back(bench, None, picker, engine)
        for attempt in range(args.repeat):
            rng = random.Random(f"write-back:{args.seed}:{attempt}")
            one_write_back(bench, runs, picker, via_cli=False)
            one_write_back(bench, runs, picker, via_cli=True)
            for _ in range(RUNNING_PER_ROUND):
                one_running_write_back(bench, runs, picker, engine)
            one_file_edit(bench, runs, picker)
            batch_write_back(bench, runs, picker, args.batch_plans, rng, str(attempt + 1))
            batch_file_edits(bench, runs, picker, args.batch_plans, rng)
            shown = ", ".join(
                f"{SHORT[name]} {runs.engine[name][-1] * 1000:.0f} ms" for name in runs.engine
            )
            # The machine may be shared: its load says how far the figures are to be trusted.
            load = os.getloadavg()[0]
            runs.other.setdefault("load average of the machine (1 min)", []).append(load)
            print(f"run {attempt + 1} (engine): {shown}; load {load:.1f}", flush=True)
        engine.close()
    return results_of(args, stats, engine_version, server.version, cold, noop, runs)


def results_of(
    args: argparse.Namespace,
    stats: Any,
    engine_version: str,
    postgres: str,
    cold: Run,
    noop: Run,
    runs: Runs,
) -> dict[str, Any]:
    plans = args.batch_plans
    measures = {
        name: {"engine_s": summary(runs.engine[name]), "wall_s": summary(runs.wall[name])}
        for name in runs.engine
    }
    measures[BATCH]["engine_per_plan_s"] = summary([s / plans for s in runs.engine[BATCH]])
    measures[FILES_BATCH]["engine_per_plan_s"] = summary(
        [s / plans for s in runs.engine[FILES_BATCH]]
    )
    others = {name: summary(values) for name, values in runs.other.items()}
    ratios = {
        "one write-back (SQL), running engine / one-shot command, engine": paired_ratios(
            round_medians(runs.engine[ONE_WARM], RUNNING_PER_ROUND), runs.engine[ONE_SQL]
        ),
        "one write-back (SQL) / one file edit, engine": paired_ratios(
            runs.engine[ONE_SQL], runs.engine[ONE_FILE]
        ),
        "one write-back (tasks update) / one file edit, engine": paired_ratios(
            runs.engine[ONE_CLI], runs.engine[ONE_FILE]
        ),
        "batch write-back per plan / batch file edits per plan, engine": paired_ratios(
            runs.engine[BATCH], runs.engine[FILES_BATCH]
        ),
        "batch write-back per plan / one file edit, engine": paired_ratios(
            runs.engine[BATCH], runs.engine[ONE_FILE], scale=plans
        ),
    }
    targets = {
        name: {
            "engine_s": measures[name]["engine_s"]["median"],
            "target_s": TARGET_ENGINE_S,
            "met": measures[name]["engine_s"]["median"] <= TARGET_ENGINE_S,
        }
        for name in (ONE_SQL, ONE_CLI, ONE_WARM)
    }
    print_table(measures, others, ratios, targets, plans)
    return {
        "plans": {
            "files": stats.files,
            "tasks": stats.tasks,
            "bytes": stats.bytes,
            "seed": args.seed,
        },
        "repeat": args.repeat,
        "batch": {
            "plans": plans,
            "edits_per_plan": {
                "status": STATUS_EDITS,
                "text": TEXT_EDITS,
                "insert": INSERTS,
                "delete": DELETES,
            },
            "file_edits_per_plan": FILE_EDITS_PER_PLAN,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {"sync_engine": engine_version, "postgres": postgres},
        "command": ["python", *engine_command(Path("PLANS"), Path("STATE"), "URL")[1:]],
        "cold_sync_s": cold.seconds,
        "noop_resync_s": noop.seconds,
        "targets": targets,
        "measures": measures,
        "other": others,
        "ratios": ratios,
        "engine_reports": runs.reports,
    }


def print_table(
    measures: dict[str, dict[str, Any]],
    others: dict[str, dict[str, Any]],
    ratios: dict[str, dict[str, Any]],
    targets: dict[str, dict[str, Any]],
    plans: int,
) -> None:
    print(f"\n{'what (median of runs)':<50}{'engine ms':>11}{'min':>8}{'max':>8}{'wall s':>9}")
    for name, figure in measures.items():
        engine, wall = figure["engine_s"], figure["wall_s"]
        print(
            f"{name:<50}{engine['median'] * 1000:>11.1f}{engine['min'] * 1000:>8.1f}"
            f"{engine['max'] * 1000:>8.1f}{wall['median']:>9.3f}"
        )
        if "engine_per_plan_s" in figure:
            per_plan = figure["engine_per_plan_s"]
            print(
                f"{f'  per plan ({plans} plans)':<50}{per_plan['median'] * 1000:>11.2f}"
                f"{per_plan['min'] * 1000:>8.2f}{per_plan['max'] * 1000:>8.2f}"
            )
    print()
    for name, figure in others.items():
        print(f"{name:<50}{figure['median']:>11.3f}")
    print()
    for name, figure in ratios.items():
        print(f"{name:<64}{figure['median']:>8.3f}")
    print()
    for name, target in targets.items():
        verdict = "met" if target["met"] else "MISSED"
        print(
            f"target: {name}: engine {target['engine_s'] * 1000:.1f} ms "
            f"≤ {target['target_s'] * 1000:.0f} ms: {verdict}"
        )


if __name__ == "__main__":
    main()
