"""The commit message of write-backs: one line per committed file, as git names it, with
what the engine changed in it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sync_engine.errors import GitCommitError
from sync_engine.ports import GitAuthor, GitCommit
from sync_engine.rendering.edits import DeleteTask, Edit, InsertTask, SetStatus, SetText
from sync_engine.services.write_backs import (
    WrittenBack,
    commit_message,
    commit_write_backs,
    describe_edits,
)

AUTHOR = GitAuthor("Plan Bot", "plan-bot@example.org")


class PrefixedWorkTree:
    """A work tree whose plans root is its ``plans`` folder; ``commit`` records its call."""

    def __init__(self, refusal: str | None = None) -> None:
        self.refusal = refusal
        self.calls: list[tuple[dict[str, bytes], str, GitAuthor]] = []

    def head(self) -> str | None:
        return "0" * 40

    def changed_between(self, old: str, new: str) -> set[str] | None:
        return set()

    def repository_path(self, path: str) -> str:
        return f"plans/{path}"

    def commit(
        self,
        files: Mapping[str, bytes],
        message: Callable[[Sequence[str]], str],
        author: GitAuthor,
    ) -> GitCommit:
        if self.refusal is not None:
            raise GitCommitError(self.refusal)
        going_in = sorted(path for path in files if not path.startswith("new"))
        self.calls.append((dict(files), message(going_in), author))
        return GitCommit("1" * 40, "0" * 40, tuple(going_in), ("new.md",))


def test_describe_edits_counts_each_kind() -> None:
    assert describe_edits([SetStatus(3, "done")]) == "1 line edit (1 status)"
    edits: list[Edit] = [SetText(4, "x"), SetStatus(3, "done"), SetStatus(9, "todo")]
    edits += [DeleteTask(12), InsertTask("y")]
    assert describe_edits(edits) == (
        "5 line edits (2 statuses, 1 text, 1 task added, 1 task removed)"
    )


def test_the_message_lists_the_committed_files_only() -> None:
    written = [
        WrittenBack("b.md", b"b", (SetText(2, "x"),)),
        WrittenBack("new.md", b"n", (SetStatus(5, "done"),)),
        WrittenBack("a/z.md", b"z", (SetStatus(5, "done"), SetStatus(6, "done"))),
    ]
    git = PrefixedWorkTree()

    outcome = commit_write_backs(git, written, AUTHOR)

    assert outcome.error is None
    assert outcome.commit is not None
    assert outcome.commit.left_out == ("new.md",)
    [(files, message, author)] = git.calls
    assert files == {"b.md": b"b", "new.md": b"n", "a/z.md": b"z"}
    assert author == AUTHOR
    assert message == (
        "sync-engine: write back database edits\n"
        "\n"
        "- plans/a/z.md: 2 line edits (2 statuses)\n"
        "- plans/b.md: 1 line edit (1 text)\n"
    )
    assert commit_message(written, git, []) == "sync-engine: write back database edits\n\n"


def test_a_refusal_is_returned_not_raised() -> None:
    outcome = commit_write_backs(
        PrefixedWorkTree("git commit failed: no commits on Fridays"),
        [WrittenBack("a.md", b"a", (SetStatus(1, "done"),))],
        AUTHOR,
    )
    assert (outcome.commit, outcome.error) == (None, "git commit failed: no commits on Fridays")
