"""``GitPythonWorkTree.commit`` in real repositories: exactly the given bytes of exactly the
given files, through the path's filters; the user's index and other changes left alone;
nothing committed when nothing changed or on an unborn branch."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from sync_engine.adapters.git import GitPythonWorkTree
from sync_engine.errors import GitCommitError
from sync_engine.ports import GitAuthor
from tests.integration.test_sync_git import GIT_ENV

AUTHOR = GitAuthor("Plan Bot", "plan-bot@example.org")
IDENTITY = ("-c", "user.name=Plan Author", "-c", "user.email=author@example.org")
# A name git would take for a pattern, and one it would quote.
ODD = "[brouillon] idée.md"


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, env=GIT_ENV, capture_output=True, check=False
    )


def git(cwd: Path, *args: str) -> str:
    done = run_git(cwd, *args)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr.decode()}"
    return done.stdout.decode().strip()


def status(top: Path) -> list[str]:
    """``git status --porcelain`` lines (names unquoted)."""
    done = run_git(top, "-c", "core.quotePath=false", "status", "--porcelain")
    return done.stdout.decode().splitlines()


def listed(paths: Sequence[str]) -> str:
    return "files: " + ", ".join(paths)


@pytest.fixture(autouse=True)
def no_user_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_ENV.items():
        if name.startswith("GIT_CONFIG"):
            monkeypatch.setenv(name, value)


@pytest.fixture
def top(tmp_path: Path) -> Path:
    """A repository with ``plans/a.md``, ``plans/b.md``, ``plans/<ODD>`` and ``notes.txt``."""
    top = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(top))
    (top / "plans").mkdir()
    for name in ("a.md", "b.md", ODD):
        (top / "plans" / name).write_bytes(f"# {name}\n\n- [ ] one\n".encode())
    (top / "notes.txt").write_text("notes\n", encoding="utf-8")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "start")
    return top


def work_tree(top: Path) -> GitPythonWorkTree:
    found = GitPythonWorkTree.find(top / "plans")
    assert found is not None
    return found


def in_head(top: Path, name: str, revision: str = "HEAD") -> bytes:
    """The file's bytes in HEAD (``revision=""``: in the index)."""
    done = run_git(top, "show", f"{revision}:{name}")
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_the_bytes_given_are_committed_whatever_the_file_holds_now(top: Path) -> None:
    start = git(top, "rev-parse", "HEAD")
    written = b"# a.md\n\n- [x] one\n"
    (top / "plans" / "a.md").write_bytes(written + b"- [ ] typed after the write\n")
    odd = f"# {ODD}\n\n- [x] one\n".encode()
    (top / "plans" / ODD).write_bytes(odd)

    made = work_tree(top).commit({"a.md": written, ODD: odd}, listed, AUTHOR)

    assert made.parent == start
    assert made.commit == git(top, "rev-parse", "HEAD")
    assert sorted(made.committed) == sorted(["a.md", ODD])
    assert made.left_out == ()
    assert in_head(top, "plans/a.md") == written
    assert in_head(top, f"plans/{ODD}") == odd
    assert git(top, "log", "-1", "--format=%B") == listed(made.committed)
    changed = git(top, "-c", "core.quotePath=false", "show", "--name-only", "--format=", "HEAD")
    assert sorted(changed.splitlines()) == sorted(["plans/a.md", f"plans/{ODD}"])
    # The line typed after the write is the user's: an unstaged change, nothing staged.
    assert status(top) == [" M plans/a.md"]


def test_content_the_user_staged_for_a_written_file_stays_staged(top: Path) -> None:
    plan = top / "plans" / "b.md"
    staged = plan.read_bytes() + b"- [ ] staged\n"
    plan.write_bytes(staged)
    git(top, "add", "plans/b.md")
    written = staged.replace(b"- [ ] one", b"- [x] one")
    plan.write_bytes(written)

    made = work_tree(top).commit({"b.md": written}, listed, AUTHOR)

    assert made.committed == ("b.md",)
    assert in_head(top, "plans/b.md") == written
    assert in_head(top, "plans/b.md", revision="") == staged  # the index entry is the user's still
    assert status(top) == ["MM plans/b.md"]


def test_line_endings_go_through_the_path_s_filters(top: Path) -> None:
    (top / ".gitattributes").write_text("*.md text eol=crlf\n", encoding="utf-8")
    git(top, "add", ".gitattributes")
    git(top, "commit", "-q", "-m", "crlf")
    written = b"# a.md\r\n\r\n- [x] one\r\n"
    (top / "plans" / "a.md").write_bytes(written)

    work_tree(top).commit({"a.md": written}, listed, AUTHOR)

    assert in_head(top, "plans/a.md") == b"# a.md\n\n- [x] one\n"  # as git add stores it
    assert status(top) == []


def test_nothing_to_commit_and_files_head_does_not_hold(top: Path) -> None:
    start = git(top, "rev-parse", "HEAD")
    (top / "plans" / "new.md").write_bytes(b"# new\n")
    same = (top / "plans" / "a.md").read_bytes()

    made = work_tree(top).commit({"a.md": same, "new.md": b"# new\n"}, listed, AUTHOR)

    assert (made.commit, made.parent, made.committed, made.left_out) == (
        None,
        start,
        (),
        ("new.md",),
    )
    assert git(top, "rev-parse", "HEAD") == start


def test_an_unborn_branch_holds_nothing_to_commit(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main", "fresh")
    (tmp_path / "fresh" / "a.md").write_bytes(b"# a\n")
    found = GitPythonWorkTree.find(tmp_path / "fresh")
    assert found is not None

    made = found.commit({"a.md": b"# a\n"}, listed, AUTHOR)

    assert (made.commit, made.left_out) == (None, ("a.md",))


def test_a_commit_msg_hook_refusing_leaves_everything_as_it_was(top: Path) -> None:
    hook = top / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\necho 'message must name a ticket' >&2\nexit 1\n", "utf-8")
    hook.chmod(0o755)
    start = git(top, "rev-parse", "HEAD")
    written = b"# a.md\n\n- [x] one\n"
    (top / "plans" / "a.md").write_bytes(written)

    with pytest.raises(GitCommitError, match="git commit failed: message must name a ticket"):
        work_tree(top).commit({"a.md": written}, listed, AUTHOR)

    assert git(top, "rev-parse", "HEAD") == start
    assert status(top) == [" M plans/a.md"]
