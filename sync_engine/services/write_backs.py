"""Committing the files a sync wrote back (optional: ``git_commit_write_backs``).

After a sync that wrote plan files, the engine may commit exactly those files, with exactly
the bytes it wrote, by a configured author. Nothing else the user changed goes in. A failed
commit never undoes the sync: the files and the database stay as written, and the failure
is reported.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sync_engine.errors import GitCommitError
from sync_engine.ports import GitAuthor, GitCommit, GitWorkTree
from sync_engine.rendering.edits import (
    DeleteTask,
    Edit,
    InsertTask,
    MoveTask,
    SetDeclaredProgress,
    SetMetadata,
    SetStatus,
    SetText,
    SetTitle,
)

__all__ = ["CommitOutcome", "WrittenBack", "commit_message", "commit_write_backs"]

SUBJECT = "sync-engine: write back database edits"

# How an edit is named in a commit message: (one, several).
_EDIT_NAMES: dict[type[Edit], tuple[str, str]] = {
    SetStatus: ("status", "statuses"),
    SetText: ("text", "texts"),
    InsertTask: ("task added", "tasks added"),
    DeleteTask: ("task removed", "tasks removed"),
    MoveTask: ("task moved", "tasks moved"),
    SetDeclaredProgress: ("progress figure", "progress figures"),
    SetTitle: ("title", "titles"),
    SetMetadata: ("version or date", "versions or dates"),
}


@dataclass(frozen=True, slots=True)
class WrittenBack:
    """A plan file a sync wrote: its root-relative path, the bytes written and the edits."""

    path: str
    content: bytes
    edits: tuple[Edit, ...]


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    """What became of the commit: made (or not needed), or the reason it failed."""

    commit: GitCommit | None = None
    error: str | None = None


def describe_edits(edits: Sequence[Edit]) -> str:
    """``3 line edits (2 statuses, 1 text)``."""
    kinds = Counter(type(edit) for edit in edits)
    parts = [
        f"{kinds[kind]} {names[kinds[kind] != 1]}"
        for kind, names in _EDIT_NAMES.items()
        if kinds[kind]
    ]
    total = len(edits)
    return f"{total} line edit{'s' if total != 1 else ''} ({', '.join(parts)})"


def commit_message(written: Sequence[WrittenBack], git: GitWorkTree, paths: Sequence[str]) -> str:
    """The subject, then one line per committed file (as git names it) with what changed."""
    edits = {item.path: item.edits for item in written}
    lines = [
        f"- {git.repository_path(path)}: {describe_edits(edits[path])}" for path in sorted(paths)
    ]
    return "\n".join([SUBJECT, "", *lines]) + "\n"


def commit_write_backs(
    git: GitWorkTree, written: Sequence[WrittenBack], author: GitAuthor
) -> CommitOutcome:
    """Commit the written files; a refusal is returned, not raised (the sync succeeded)."""
    try:
        made = git.commit(
            {item.path: item.content for item in written},
            functools.partial(commit_message, written, git),
            author,
        )
    except GitCommitError as error:
        return CommitOutcome(error=str(error))
    return CommitOutcome(commit=made)
