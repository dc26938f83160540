"""Cold sync of generated plans into PostgreSQL, side by side with MarkdownDB (``mddb``).

    .venv/bin/python benchmarks/sync.py [--plans 1000] [--repeat 3] [--seed 1] [--mddb-only]

Needs MarkdownDB once: ``npm ci --prefix benchmarks`` (``benchmarks/package.json`` pins it).

Generates ``--plans`` plans (``benchmarks/generate.py``) in a temporary folder, starts one
embedded PostgreSQL server for the whole benchmark (its first start, initdb included, is timed
on its own), then, ``--repeat`` times, interleaved so that a noisy machine affects both sides:

* cold sync: ``sync-engine sync --no-index --json`` into a freshly created database, with a
  fresh state folder, as a whole process (its peak RSS is taken from ``wait4``);
* no-op resync: the same command again on the unchanged folder;
* one edited plan: one checkbox ticked in one plan, then the command again (wall time and the
  engine's own ``duration_s``); the plan is restored afterwards;
* MarkdownDB: ``npx mddb DIR`` in a fresh working folder (it writes ``markdown.db`` and
  ``.markdowndb/files.json`` there), so a fresh SQLite file each run.

Each figure is the median of the runs. Prints a table and writes
``benchmarks/results/sync.json``. The headline is cold sync / MarkdownDB (target ≤ 0.5).
MarkdownDB has no incremental mode: any change means a full reindex, so the resync rows are
compared with that too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from generate import GeneratedStats, generate

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
MDDB_PACKAGE = BENCH / "node_modules" / "mddb" / "package.json"
BENCH_DATABASE = "sync_bench"
TARGET_RATIO = 0.5
ENGINE = [sys.executable, "-m", "sync_engine"]


class BenchmarkError(Exception):
    """A measured command failed, or a prerequisite is missing."""


@dataclass(frozen=True, slots=True)
class Run:
    """One whole-process run."""

    seconds: float
    max_rss_kb: int
    returncode: int
    stdout: str
    stderr: str


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.setdefault("XDG_RUNTIME_DIR", "/tmp")  # as the Makefile does
    environment.setdefault("HF_HUB_OFFLINE", "1")
    return environment


def run(command: list[str], cwd: Path | None = None) -> Run:
    """Run ``command``; its wall time and peak RSS (of it and its reaped descendants)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=_environment()
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=seconds,
            max_rss_kb=usage.ru_maxrss,  # KiB on Linux
            returncode=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _failure(what: str, command: list[str], result: Run) -> BenchmarkError:
    return BenchmarkError(
        f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
        f"{_tail(result.stderr or result.stdout)}"
    )


# -- prerequisites ---------------------------------------------------------------------------


def check_engine() -> str:
    """The engine's version; fails clearly while ``sync-engine sync`` does not exist."""
    probe = subprocess.run(
        [*ENGINE, "sync", "--help"], capture_output=True, text=True, check=False, env=_environment()
    )
    if probe.returncode != 0:
        raise BenchmarkError(
            "`sync-engine sync` is not available yet "
            f"(`python {' '.join(ENGINE[1:])} sync --help` exited {probe.returncode}):\n"
            f"{_tail(probe.stderr or probe.stdout, 8)}\n"
            "Measure MarkdownDB alone with --mddb-only."
        )
    version = subprocess.run(
        [*ENGINE, "--version"], capture_output=True, text=True, check=False, env=_environment()
    )
    return version.stdout.strip().split()[-1] if version.returncode == 0 else "unknown"


def check_mddb() -> tuple[str, str]:
    """(mddb version, node version); fails clearly when MarkdownDB is not installed."""
    if shutil.which("npx") is None or shutil.which("node") is None:
        raise BenchmarkError("node and npx are needed for MarkdownDB (node 20 or later)")
    if not MDDB_PACKAGE.is_file():
        raise BenchmarkError(
            f"MarkdownDB is not installed ({MDDB_PACKAGE} missing): run "
            "`npm ci --prefix benchmarks` (or `npm install --prefix benchmarks`)"
        )
    version = json.loads(MDDB_PACKAGE.read_text(encoding="utf-8"))["version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return str(version), node.stdout.strip()


# -- MarkdownDB ------------------------------------------------------------------------------


def mddb_command(plans_dir: Path) -> list[str]:
    return ["npx", "--prefix", str(BENCH), "--no-install", "mddb", str(plans_dir)]


def run_mddb(plans_dir: Path, scratch: Path) -> tuple[Run, dict[str, int]]:
    """One ``npx mddb`` in a fresh working folder; the run and what its SQLite file holds."""
    work = Path(tempfile.mkdtemp(prefix="mddb-", dir=scratch))
    try:
        command = mddb_command(plans_dir)
        result = run(command, cwd=work)
        if result.returncode != 0:
            raise _failure("MarkdownDB", command, result)
        database = work / "markdown.db"
        if not database.is_file():
            raise BenchmarkError(f"MarkdownDB wrote no {database}:\n{_tail(result.stderr)}")
        connection = sqlite3.connect(database)
        try:
            counts = {
                table: int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("files", "tasks")
            }
        finally:
            connection.close()
        return result, counts
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- sync-engine -----------------------------------------------------------------------------


class BenchServer:
    """One embedded PostgreSQL server for the benchmark; a fresh database per cold run."""

    def __init__(self, scratch: Path) -> None:
        from sync_engine.adapters.postgres.embedded import EmbeddedPostgres

        self._server = EmbeddedPostgres(scratch / "server", idle_seconds=None)
        self.url = ""
        self.init_seconds = 0.0
        self.version = ""

    def start(self) -> None:
        start = time.perf_counter()
        self.url = self._server.ensure_running()
        self.init_seconds = time.perf_counter() - start
        self.version = self._server.status().version

    def stop(self) -> None:
        self._server.stop()

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def recreate(self, name: str) -> str:
        """Drop and create database ``name``; its URL."""
        import psycopg

        with psycopg.connect(self.database_url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)


def engine_command(plans_dir: Path, state_dir: Path, url: str) -> list[str]:
    return [
        *ENGINE, "sync", "--no-index", "--json", "--root", str(plans_dir),
        "--state-dir", str(state_dir), "--database-url", url,
    ]  # fmt: skip


def run_engine(command: list[str], what: str) -> tuple[Run, dict[str, Any]]:
    """One sync; exit 1 (completed with problems) is accepted and shows in its report."""
    result = run(command)
    if result.returncode not in (0, 1):
        raise _failure(what, command, result)
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except ValueError as error:
        raise BenchmarkError(
            f"{what}: the output is not JSON ({error}): {' '.join(command)}\n"
            f"{_tail(result.stdout)}\n{_tail(result.stderr)}"
        ) from error
    report["exit_code"] = result.returncode
    return result, report


def tick_one_checkbox(path: Path) -> bytes:
    """Tick the first open checkbox of ``path`` (or untick the first done one); the original."""
    original = path.read_bytes()
    text = original.decode("utf-8")
    edited = text.replace("- [ ]", "- [x]", 1)
    if edited == text:
        edited = text.replace("- [x]", "- [ ]", 1)
    path.write_bytes(edited.encode("utf-8"))
    return original


# -- figures -----------------------------------------------------------------------------------


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": values,
    }


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _check_cold(report: dict[str, Any], stats: GeneratedStats) -> None:
    expected = {"files_scanned": stats.files, "tasks_created": stats.tasks}
    for key, value in expected.items():
        if report.get(key) != value:
            _warn(f"cold sync reported {key}={report.get(key)}, expected {value}")


def _check_noop(report: dict[str, Any]) -> None:
    changed = {k: report.get(k) for k in ("files_changed", "tasks_created", "tasks_updated")}
    if any(changed.values()):
        _warn(f"the no-op resync changed something: {changed}")


def _check_edit(report: dict[str, Any]) -> None:
    if report.get("files_changed") != 1 or report.get("tasks_updated") != 1:
        _warn(
            "the one-edit resync reported files_changed="
            f"{report.get('files_changed')}, tasks_updated={report.get('tasks_updated')}"
        )


def print_table(measures: dict[str, dict[str, Any]], mddb_median: float) -> None:
    print(f"\n{'what':<52}{'median s':>10}{'min':>9}{'max':>9}{'vs mddb':>9}")
    for name, figure in measures.items():
        ratio = figure["median"] / mddb_median
        print(
            f"{name:<52}{figure['median']:>10.3f}{figure['min']:>9.3f}{figure['max']:>9.3f}"
            f"{ratio:>9.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mddb-only", action="store_true", help="measure MarkdownDB alone (no sync-engine)"
    )
    args = parser.parse_args()
    if args.plans < 1 or args.repeat < 1:
        parser.error("--plans and --repeat must be at least 1")
    try:
        mddb_version, node_version = check_mddb()
        engine_version = None if args.mddb_only else check_engine()
        with tempfile.TemporaryDirectory(prefix="sync-engine-bench-") as scratch_name:
            scratch = Path(scratch_name)
            results = _measure(args, scratch, engine_version, mddb_version, node_version)
    except BenchmarkError as error:
        print(f"sync.py: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "sync.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwritten {out.relative_to(ROOT)}")


def _measure(
    args: argparse.Namespace,
    scratch: Path,
    engine_version: str | None,
    mddb_version: str,
    node_version: str,
) -> dict[str, Any]:
    plans_dir = scratch / "plans"
    start = time.perf_counter()
    stats = generate(plans_dir, args.plans, args.seed)
    plan_files = sorted(plans_dir.rglob("*.md"))
    print(
        f"plans: {stats.files} files, {stats.tasks} tasks, {stats.megabytes:.2f} MB "
        f"(seed {args.seed}, generated in {time.perf_counter() - start:.1f} s); "
        f"repeat {args.repeat}"
    )
    engine = "" if engine_version is None else f"; sync-engine {engine_version}: {' '.join(ENGINE)}"
    print(f"MarkdownDB (mddb) {mddb_version} on node {node_version}{engine}")

    server = None if engine_version is None else BenchServer(scratch)
    mddb_runs: list[Run] = []
    mddb_counts: dict[str, int] = {}
    cold: list[Run] = []
    noop: list[Run] = []
    edited: list[Run] = []
    reports: dict[str, list[dict[str, Any]]] = {"cold": [], "noop": [], "edited": []}
    try:
        if server is not None:
            server.start()
            print(f"embedded PostgreSQL {server.version}: first start {server.init_seconds:.2f} s")
        for attempt in range(args.repeat):
            line = [f"run {attempt + 1}:"]
            if server is not None:
                url = server.recreate(BENCH_DATABASE)
                command = engine_command(plans_dir, scratch / f"state-{attempt}", url)
                result, report = run_engine(command, "cold sync")
                _check_cold(report, stats)
                cold.append(result)
                reports["cold"].append(report)
                result, report = run_engine(command, "no-op resync")
                _check_noop(report)
                noop.append(result)
                reports["noop"].append(report)
                target = plan_files[(attempt * 37) % len(plan_files)]
                original = tick_one_checkbox(target)
                try:
                    result, report = run_engine(command, "one-edit resync")
                finally:
                    target.write_bytes(original)
                _check_edit(report)
                report["edited_file"] = str(target.relative_to(plans_dir))
                edited.append(result)
                reports["edited"].append(report)
                line.append(
                    f"cold {cold[-1].seconds:.2f} s, no-op {noop[-1].seconds:.2f} s, "
                    f"one edit {edited[-1].seconds:.2f} s,"
                )
            result, mddb_counts = run_mddb(plans_dir, scratch)
            mddb_runs.append(result)
            line.append(f"mddb {result.seconds:.2f} s")
            print(" ".join(line), flush=True)
    finally:
        if server is not None:
            server.stop()

    if mddb_counts != {"files": stats.files, "tasks": stats.tasks}:
        _warn(f"MarkdownDB indexed {mddb_counts}, generated {stats.files} files, {stats.tasks}")
    mddb = summary([r.seconds for r in mddb_runs])
    measures: dict[str, dict[str, Any]] = {}
    if server is not None:
        measures["sync-engine cold sync (fresh database)"] = summary([r.seconds for r in cold])
        with_init = [r.seconds + server.init_seconds for r in cold]
        measures["  + embedded server first start (sum)"] = summary(with_init)
    measures["MarkdownDB `npx mddb DIR` (fresh SQLite)"] = mddb
    if server is not None:
        measures["sync-engine no-op resync"] = summary([r.seconds for r in noop])
        measures["sync-engine one edited plan (wall)"] = summary([r.seconds for r in edited])
        engine_own = [float(report["duration_s"]) for report in reports["edited"]]
        measures["sync-engine one edited plan (its duration_s)"] = summary(engine_own)
    print_table(measures, mddb["median"])

    rss = {"mddb": summary([r.max_rss_kb / 1024 for r in mddb_runs])}
    if server is not None:
        rss["cold_sync"] = summary([r.max_rss_kb / 1024 for r in cold])
    print("\npeak RSS (MB): " + ", ".join(f"{k} {v['median']:.0f}" for k, v in rss.items()))
    headline: dict[str, Any] = {"target": TARGET_RATIO}
    if server is not None:
        cold_median = measures["sync-engine cold sync (fresh database)"]["median"]
        ratio = cold_median / mddb["median"]
        headline.update(cold_over_mddb=ratio, met=ratio <= TARGET_RATIO)
        print(
            f"headline: cold sync / MarkdownDB = {ratio:.3f} "
            f"({'meets' if ratio <= TARGET_RATIO else 'misses'} the target ≤ {TARGET_RATIO})"
        )
    for figure in measures.values():
        figure["ratio_vs_mddb"] = figure["median"] / mddb["median"]
    return {
        "plans": {
            "files": stats.files,
            "tasks": stats.tasks,
            "bytes": stats.bytes,
            "megabytes": stats.megabytes,
            "seed": args.seed,
        },
        "repeat": args.repeat,
        "mode": "mddb-only" if server is None else "full",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {
            "sync_engine": engine_version,
            "mddb": mddb_version,
            "node": node_version,
            "postgres": server.version if server else None,
        },
        "commands": {
            "cold_sync": ["python", *engine_command(Path("PLANS"), Path("STATE"), "URL")[1:]],
            "mddb": ["npx", "--prefix", "benchmarks", *mddb_command(Path("PLANS"))[3:]],
        },
        "server_first_start_seconds": server.init_seconds if server else None,
        "headline": headline,
        "measures": measures,
        "peak_rss_mb": rss,
        "mddb_indexed": mddb_counts,
        "engine_reports": reports if server else None,
    }


if __name__ == "__main__":
    main()
