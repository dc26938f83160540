"""Committing write-backs in a real git work tree, through the command line, against the real
embedded PostgreSQL: exactly the files written, with exactly their bytes, by the configured
author; the user's staged and unstaged changes left as they were; off by default; a commit
git refuses (a hook, a merge in progress) reported while the sync itself stands."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sync_engine.entrypoints.cli import main
from tests.conftest import SAMPLE_PLANS
from tests.integration.test_sync_git import GIT_ENV

PLAN = "plan-dev-v1-api-gateway.md"
OTHER = "plan-dev-v2-migration-postgres.md"
AUTHOR = "Plan Bot <plan-bot@example.org>"
# The repository has no identity of its own: the test's commits name theirs, the engine's
# must come from its settings alone.
IDENTITY = ("-c", "user.name=Plan Author", "-c", "user.email=author@example.org")


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, env=GIT_ENV, capture_output=True, check=False
    )


def git(cwd: Path, *args: str) -> str:
    done = run_git(cwd, *args)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr.decode()}"
    return done.stdout.decode().strip()


class Repository:
    """A git work tree whose ``plans`` folder is the synced root."""

    def __init__(self, top: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.top = top
        self.root = top / "plans"
        self.url = url
        self._capsys = capsys

    def run(self, *args: str) -> tuple[int, Any]:
        self._capsys.readouterr()
        code = main([*args, "--root", str(self.root), "--database-url", self.url, "--json"])
        out = self._capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    def ok(self, *args: str) -> Any:
        code, data = self.run(*args)
        assert code == 0, data
        return data

    def git(self, *args: str) -> str:
        return git(self.top, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def status(self) -> list[str]:
        """``git status --porcelain`` lines, sorted."""
        out = run_git(self.top, "status", "--porcelain", "--untracked-files=all").stdout
        return sorted(out.decode().splitlines())

    def recorded_head(self) -> str | None:
        with psycopg.connect(self.url) as connection:
            row = connection.execute(
                "SELECT git_head FROM roots WHERE path = %s", (str(self.root),)
            ).fetchone()
        assert row is not None
        return str(row[0]) if row[0] is not None else None

    def first_todo(self, name: str = PLAN) -> dict[str, Any]:
        lines = (self.root / name).read_text("utf-8").splitlines()
        line = next(i for i, text in enumerate(lines, 1) if text.startswith("- [ ] "))
        tasks = self.ok("tasks", "list", "--plan", name)
        return next(task for task in tasks if task["line"] == line)

    def tick(self, name: str = PLAN) -> dict[str, Any]:
        """Mark the plan's first to-do task done in the database; returns the task."""
        task = self.first_todo(name)
        self.ok("tasks", "update", task["id"], "--status", "done")
        return task

    def configure(self, text: str) -> None:
        (self.root / "sync-engine.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def repository(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Repository:
    """The sample plans and a notes file, committed, synced once."""
    for name, value in GIT_ENV.items():
        if name.startswith("GIT_CONFIG"):
            monkeypatch.setenv(name, value)  # the engine's git runs in this process
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_DIR"):
        monkeypatch.delenv(name, raising=False)
    top = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(top))
    shutil.copytree(SAMPLE_PLANS, top / "plans", ignore=shutil.ignore_patterns(".sync-engine"))
    (top / "notes.txt").write_text("notes\n", encoding="utf-8")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "plans")
    repository = Repository(top, database_url, capsys)
    assert repository.ok("sync")["tasks_created"] == 246
    assert repository.status() == []
    return repository


def committed(repository: Repository, name: str) -> bytes:
    """The plan's bytes in HEAD."""
    done = run_git(repository.top, "show", f"HEAD:plans/{name}")
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_the_written_files_are_committed_by_the_author_and_nothing_else(
    repository: Repository,
) -> None:
    repository.configure(f'git_commit_write_backs = true\ngit_author = "{AUTHOR}"\n')
    repository.git("add", "plans/sync-engine.toml")
    repository.git("commit", "-q", "-m", "settings")
    # An untracked plan the engine will also write to.
    shutil.copy(repository.root / OTHER, repository.root / "brouillon.md")
    repository.ok("sync")
    start = repository.head()
    # The user's own work in progress: a staged change, an unstaged plan edit, and an
    # unstaged edit in the plan the database is about to change too.
    (repository.top / "notes.txt").write_text("notes, staged\n", encoding="utf-8")
    repository.git("add", "notes.txt")
    other = repository.root / OTHER
    other.write_text(other.read_text("utf-8") + "\nUne note.\n", encoding="utf-8")
    plan = repository.root / PLAN
    plan.write_text(plan.read_text("utf-8") + "\nÀ relire.\n", encoding="utf-8")
    task = repository.tick()
    repository.tick("brouillon.md")

    report = repository.ok("sync")

    assert report["written_back"] == 2
    commit = report["git_commit"]
    assert commit == {
        "commit": repository.head(),
        "files": [PLAN],
        "left_out": ["brouillon.md"],
        "error": None,
    }
    log = repository.git("log", "-1", "--format=%an <%ae>%n%cn <%ce>%n%P%n%B")
    assert log.splitlines() == [
        AUTHOR,
        AUTHOR,
        start,
        "sync-engine: write back database edits",
        "",
        f"- plans/{PLAN}: 1 line edit (1 status)",
    ]
    assert repository.git("show", "--name-only", "--format=", "HEAD") == f"plans/{PLAN}"
    # The whole file as written, the user's unstaged line merged in, is what went in.
    written = plan.read_bytes()
    assert committed(repository, PLAN) == written
    assert written.endswith("À relire.\n".encode())
    line = written.decode("utf-8").splitlines()[task["line"] - 1]
    assert line.startswith("- [x] ")
    # The staged change is still staged and uncommitted; the rest is as the user left it.
    assert repository.status() == sorted(
        ["?? plans/brouillon.md", f" M plans/{OTHER}", "M  notes.txt"]
    )
    assert repository.git("diff", "--cached", "--name-only") == "notes.txt"
    assert committed(repository, OTHER) != other.read_bytes()
    # The engine's commit is the HEAD recorded: the next sync has nothing to do.
    assert repository.recorded_head() == repository.head()
    again = repository.ok("sync")
    assert (again["files_changed"], again["written_back"], again["git_commit"]) == (0, 0, None)
    assert repository.head() == commit["commit"]


def test_off_by_default_and_on_with_the_flag(repository: Repository) -> None:
    start = repository.head()
    repository.tick()

    report = repository.ok("sync")

    assert (report["written_back"], report["git_commit"]) == (1, None)
    assert repository.head() == start
    assert repository.status() == [f" M plans/{PLAN}"]
    assert repository.recorded_head() == start

    repository.git("checkout", "-q", "--detach")  # a detached HEAD is no obstacle
    repository.tick()
    flagged = repository.ok("sync", "--git-commit")

    made = flagged["git_commit"]["commit"]
    assert made == repository.head() != start
    assert repository.git("log", "-1", "--format=%an <%ae> %cn <%ce>") == (
        "sync-engine <sync-engine@localhost> sync-engine <sync-engine@localhost>"
    )
    # Both write-backs are in the file; the commit holds it as written.
    assert repository.status() == []
    assert repository.git("rev-parse", "main") == start
    assert repository.recorded_head() == made


def test_a_hook_that_refuses_is_reported_and_the_sync_stands(repository: Repository) -> None:
    hook = repository.top / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'no commits on Fridays' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    repository.configure("git_commit_write_backs = true\n")
    start = repository.head()
    task = repository.tick()

    code, report = repository.run("sync")

    assert code == 1
    assert report["written_back"] == 1
    commit = report["git_commit"]
    assert commit["commit"] is None
    assert "no commits on Fridays" in commit["error"]
    assert repository.head() == start
    # The write-back stands, in the file and in the database.
    line = (repository.root / PLAN).read_text("utf-8").splitlines()[task["line"] - 1]
    assert line.startswith("- [x] ")
    assert repository.ok("tasks", "show", task["id"])["status"] == "done"
    assert repository.status() == sorted(["?? plans/sync-engine.toml", f" M plans/{PLAN}"])
    with psycopg.connect(repository.url) as connection:
        last = connection.execute(
            "SELECT status FROM sync_operations ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert last == ("problems",)
    # Nothing is left to sync, and nothing to commit: the next sync is a no-op.
    again = repository.ok("sync")
    assert (again["files_changed"], again["written_back"], again["git_commit"]) == (0, 0, None)


def test_a_merge_in_progress_is_not_concluded_by_the_engine(repository: Repository) -> None:
    repository.configure("git_commit_write_backs = true\n")
    repository.git("checkout", "-q", "-b", "side")
    (repository.top / "notes.txt").write_text("notes, side\n", encoding="utf-8")
    repository.git("commit", "-q", "-am", "side")
    repository.git("checkout", "-q", "main")
    (repository.top / "notes.txt").write_text("notes, main\n", encoding="utf-8")
    repository.git("commit", "-q", "-am", "main")
    start = repository.head()
    assert run_git(repository.top, "merge", "-q", "side").returncode == 1  # a conflict
    task = repository.tick()

    code, report = repository.run("sync")

    assert code == 1
    assert "a merge is in progress" in report["git_commit"]["error"]
    assert (repository.top / ".git" / "MERGE_HEAD").is_file()
    assert repository.head() == start
    assert repository.status() == sorted(
        ["?? plans/sync-engine.toml", "UU notes.txt", f" M plans/{PLAN}"]
    )
    assert repository.ok("tasks", "show", task["id"])["status"] == "done"
