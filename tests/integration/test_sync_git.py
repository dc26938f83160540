"""Files → PostgreSQL in a real git work tree: a ``git pull`` that edits, adds and deletes
plans, a checkout of an older commit, and a pull whose rewritten files end up with their
old size, mtime and inode (only the diff from the recorded HEAD can reveal those). Each
sync must read only the files git changed."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_engine import bootstrap
from sync_engine.adapters.filesystem import LocalFileStat, LocalPlanFiles
from sync_engine.adapters.git import GitPythonWorkTree
from sync_engine.adapters.postgres.store import PostgresPlanStore
from sync_engine.config import Settings, load_settings
from sync_engine.services.sync import SyncReport

PLANS = 40
TASKS_PER_PHASE = 5
PHASES = ("Fondations", "Livraison")
VERBS = ("Préparer", "Écrire", "Tester", "Relire", "Publier")
# Some names are not ASCII: git quotes those in its output unless told not to.
SLUGS = ("api", "données", "écran", "sécurité", "docs")
# An untracked plan in a folder git ignores, with a name git quotes.
DRAFT = "brouillons/idée-à-creuser.md"
EDITED = range(0, 30, 2)  # 15 plans
DELETED = (1, 3)
ADDED = (40, 41, 42)
# Files of the work tree are made this old so that only real changes look changed.
AGE_NS = 3600 * 1_000_000_000
# No user or system git configuration (signing, hooks, default branch) leaks in.
GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

# A plan as written: per task, its title and whether it is done.
Tasks = list[tuple[str, bool]]
# A plan as stored: per task, its text and status.
StoredTasks = list[tuple[str, str]]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def plan_path(number: int) -> str:
    return f"plan-{number:02d}-{SLUGS[number % len(SLUGS)]}.md"


def new_tasks(number: int) -> Tasks:
    count = len(PHASES) * TASKS_PER_PHASE
    return [
        (f"{VERBS[k % len(VERBS)]} la partie {k + 1} du plan {number}", k % 3 == 0)
        for k in range(count)
    ]


def label(index: int) -> str:
    return f"{index // TASKS_PER_PHASE + 1}.{index % TASKS_PER_PHASE + 1}"


def render(number: int, tasks: Tasks) -> str:
    lines = [f"# Plan {number}: {SLUGS[number % len(SLUGS)]}", ""]
    for phase_index, phase in enumerate(PHASES):
        lines += [f"## Phase {phase_index + 1}: {phase}", ""]
        for index in range(phase_index * TASKS_PER_PHASE, (phase_index + 1) * TASKS_PER_PHASE):
            title, done = tasks[index]
            lines.append(f"- [{'x' if done else ' '}] **{label(index)}** {title}")
        lines.append("")
    return "\n".join(lines)


def as_stored(model: dict[int, Tasks]) -> dict[str, StoredTasks]:
    return {
        plan_path(number): [
            (f"**{label(index)}** {title}", "done" if done else "todo")
            for index, (title, done) in enumerate(tasks)
        ]
        for number, tasks in model.items()
    }


def write_plans(root: Path, model: dict[int, Tasks]) -> None:
    for number, tasks in model.items():
        (root / plan_path(number)).write_text(render(number, tasks), encoding="utf-8")


def age_files(root: Path) -> None:
    old = time.time_ns() - AGE_NS
    for path in root.rglob("*.md"):
        os.utime(path, ns=(old, old))


def fast_path_keys(root: Path) -> dict[str, tuple[int, int, int]]:
    """What the sync's fast path compares with the last sync: size, mtime and inode."""
    keys = {}
    for path in root.glob("*.md"):
        stat = path.stat()
        keys[path.name] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return keys


@dataclass
class Checkout:
    """An author's clone that pushes, and the synced work tree that pulls."""

    author: Path
    work: Path
    settings: Settings
    store: PostgresPlanStore
    model: dict[int, Tasks]
    first_commit: str

    @property
    def root(self) -> Path:
        return self.work / "plans"

    def sync(self) -> SyncReport:
        sync = bootstrap.build_files_sync(self.settings, self.store)
        return sync.run(bootstrap.sync_options(self.settings, False, False))

    def stored(self) -> dict[str, StoredTasks]:
        root = self.store.ensure_root(str(self.settings.root))
        found: dict[str, StoredTasks] = {}
        for task in self.store.list_tasks(root.id):
            found.setdefault(task.plan, []).append((task.text, task.status))
        return found

    def ids(self) -> dict[str, list[str]]:
        root = self.store.ensure_root(str(self.settings.root))
        found: dict[str, list[str]] = {}
        for task in self.store.list_tasks(root.id):
            found.setdefault(task.plan, []).append(task.id)
        return found

    def recorded_head(self) -> str | None:
        return self.store.ensure_root(str(self.settings.root)).git_head


@pytest.fixture
def reads(checkout: Checkout, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths every ``LocalPlanFiles`` reads after the first sync, in order."""
    seen: list[str] = []
    original = LocalPlanFiles.read

    def counting_read(self: LocalPlanFiles, path: str) -> tuple[bytes, LocalFileStat]:
        seen.append(path)
        return original(self, path)

    monkeypatch.setattr(LocalPlanFiles, "read", counting_read)
    return seen


@pytest.fixture
def checkout(tmp_path: Path, database_url: str) -> Iterator[Checkout]:
    """40 plans pushed by the author, cloned into the work tree and synced once."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    clones = []
    for name in ("author", "work"):
        git(tmp_path, "clone", "-q", str(origin), name)
        git(tmp_path / name, "config", "user.name", "Plan Author")
        git(tmp_path / name, "config", "user.email", "author@example.org")
        clones.append(tmp_path / name)
    author, work = clones
    model = {number: new_tasks(number) for number in range(PLANS)}
    (author / "plans").mkdir()
    write_plans(author / "plans", model)
    (author / "README.md").write_text("# Plans\n\n- [ ] not a plan of the root\n", "utf-8")
    (author / ".gitignore").write_text("plans/brouillons/\n", encoding="utf-8")
    git(author, "add", "-A")
    git(author, "commit", "-q", "-m", "40 plans")
    git(author, "push", "-q", "origin", "main")
    git(work, "pull", "-q", "--ff-only", "origin", "main")
    # A draft git ignores is not a plan of the root.
    (work / "plans" / "brouillons").mkdir()
    (work / "plans" / DRAFT).write_text("# Idée\n\n- [ ] y penser\n", encoding="utf-8")
    age_files(work / "plans")
    settings = load_settings(work / "plans", {"database_url": database_url}, environ={})
    with PostgresPlanStore(database_url) as store:
        synced = Checkout(author, work, settings, store, model, git(work, "rev-parse", "HEAD"))
        first = synced.sync()
        assert (first.counts.files_scanned, first.counts.files_changed) == (PLANS, PLANS)
        assert first.counts.tasks_created == PLANS * len(PHASES) * TASKS_PER_PHASE
        assert not first.has_problems
        assert synced.stored() == as_stored(model)
        yield synced


def test_second_sync_reads_nothing(checkout: Checkout, reads: list[str]) -> None:
    report = checkout.sync()
    assert (report.counts.files_scanned, report.counts.files_changed) == (PLANS, 0)
    assert reads == []
    assert checkout.recorded_head() == checkout.first_commit


def test_pull_then_checkout_of_an_older_commit(checkout: Checkout, reads: list[str]) -> None:
    original_ids = checkout.ids()
    model = {number: list(tasks) for number, tasks in checkout.model.items()}
    plans = checkout.author / "plans"
    for position, number in enumerate(EDITED):
        tasks = model[number]
        flipped, edited = number % 10, (number + 3) % 10
        tasks[flipped] = (tasks[flipped][0], not tasks[flipped][1])
        tasks[edited] = (tasks[edited][0] + " avec relecture", tasks[edited][1])
        (plans / plan_path(number)).write_text(render(number, tasks), encoding="utf-8")
        if position == 7:  # two commits to pull, not one
            git(checkout.author, "commit", "-q", "-am", "first edits")
    for number in DELETED:
        del model[number]
        (plans / plan_path(number)).unlink()
    for number in ADDED:
        model[number] = new_tasks(number)
        (plans / plan_path(number)).write_text(render(number, model[number]), encoding="utf-8")
    git(checkout.author, "add", "-A")
    git(checkout.author, "commit", "-q", "-m", "more edits, 3 new plans, 2 gone")
    git(checkout.author, "push", "-q", "origin", "main")

    git(checkout.work, "pull", "-q", "--ff-only", "origin", "main")
    pulled = checkout.sync()

    changed = {plan_path(number) for number in (*EDITED, *ADDED)}
    assert sorted(reads) == sorted(changed)  # each changed file read once, nothing else
    counts = pulled.counts
    assert (counts.files_scanned, counts.files_changed) == (PLANS + 1, 18)
    assert (counts.tasks_created, counts.tasks_updated, counts.tasks_deleted) == (30, 30, 20)
    assert counts.plans_deleted == 2
    assert not pulled.has_problems
    assert checkout.stored() == as_stored(model)
    ids = checkout.ids()
    for number in range(PLANS):
        if number not in DELETED:  # edited or not, every task kept its id
            assert ids[plan_path(number)] == original_ids[plan_path(number)]
    assert checkout.recorded_head() == git(checkout.work, "rev-parse", "HEAD")
    assert checkout.recorded_head() != checkout.first_commit

    reads.clear()
    git(checkout.work, "checkout", "-q", "--detach", checkout.first_commit)
    reverted = checkout.sync()

    restored = {plan_path(number) for number in (*EDITED, *DELETED)}
    # A file the checkout shrank a moment ago is read twice (once more after a pause, in
    # case it was caught mid-save); no other file is read.
    assert set(reads) == restored
    counts = reverted.counts
    assert (counts.files_scanned, counts.files_changed) == (PLANS, 17)
    assert (counts.tasks_created, counts.tasks_updated, counts.tasks_deleted) == (20, 30, 30)
    assert counts.plans_deleted == 3
    assert checkout.stored() == as_stored(checkout.model)
    ids = checkout.ids()
    for number in range(PLANS):
        if number not in DELETED:
            assert ids[plan_path(number)] == original_ids[plan_path(number)]
    assert checkout.recorded_head() == checkout.first_commit


def test_changes_only_the_recorded_head_reveals(
    checkout: Checkout, reads: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same-size edits whose files end up with the size, mtime and inode the last sync
    recorded: the stat fast path sees nothing, the diff from the recorded HEAD does."""
    model = {number: list(tasks) for number, tasks in checkout.model.items()}
    for number in EDITED:
        tasks = model[number]
        index = next(k for k, (_, done) in enumerate(tasks) if not done)
        tasks[index] = (tasks[index][0], True)  # "[ ]" -> "[x]": same size
        path = checkout.author / "plans" / plan_path(number)
        path.write_text(render(number, tasks), encoding="utf-8")
    git(checkout.author, "commit", "-q", "-am", "tick one task in 15 plans")
    git(checkout.author, "push", "-q", "origin", "main")

    changed = [plan_path(number) for number in EDITED]
    before = {p.name: p.stat() for p in checkout.root.glob("*.md")}
    # Git replaces a file it updates by a new one; a hard link keeps each old inode.
    keep = tmp_path / "old-inodes"
    keep.mkdir()
    for name in changed:
        os.link(checkout.root / name, keep / name)
    git(checkout.work, "pull", "-q", "--ff-only", "origin", "main")
    for name in changed:
        path, old = checkout.root / name, before[name]
        data = path.read_bytes()
        assert len(data) == old.st_size
        with (keep / name).open("r+b") as handle:  # the new bytes into the old inode
            handle.write(data)
        os.replace(keep / name, path)
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert fast_path_keys(checkout.root) == {
        name: (old.st_size, old.st_mtime_ns, old.st_ino) for name, old in before.items()
    }
    assert git(checkout.work, "status", "--porcelain") == ""  # a clean checkout of the pull

    # Without git no plan looks changed (only the draft git ignores is new): the test
    # depends on the diff, not on the stat.
    with monkeypatch.context() as patch:
        patch.setattr(GitPythonWorkTree, "find", lambda root: None)
        blind = bootstrap.build_files_sync(checkout.settings, checkout.store)
        dry = blind.run(bootstrap.sync_options(checkout.settings, True, False))
    assert (dry.counts.tasks_updated, reads) == (0, [DRAFT])
    reads.clear()

    report = checkout.sync()

    assert sorted(reads) == sorted(changed)
    assert (report.counts.files_changed, report.counts.tasks_updated) == (15, 15)
    assert (report.counts.tasks_created, report.counts.tasks_deleted) == (0, 0)
    assert checkout.stored() == as_stored(model)
    assert checkout.recorded_head() == git(checkout.work, "rev-parse", "HEAD")
    again = checkout.sync()
    assert (again.counts.files_changed, again.counts.tasks_updated) == (0, 0)
