"""The edits the renderer can make to a plan file. Tasks are named by their first line in
the source the edits apply to (1-based), so a batch of edits refers to one version of the
file, whatever order they are applied in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Change a task's checkbox to the character of ``status`` (``done`` in the plan's own
    ``x``/``X`` style)."""

    line: int
    status: str


@dataclass(frozen=True, slots=True)
class SetText:
    """Replace the text after a task's checkbox (one line; trailing spaces are kept)."""

    line: int
    text: str


@dataclass(frozen=True, slots=True)
class InsertTask:
    """Add a task. Placed after the task starting on ``after_line`` (and its sub-tasks) when
    given, else at the end of phase ``phase`` (an index into ``plan.phases``) or section
    ``section``, else at the end of the file. It copies its neighbour's bullet, indentation
    and checkbox style; ``as_child`` indents it under ``after_line`` instead."""

    text: str
    status: str = "todo"
    after_line: int | None = None
    phase: int | None = None
    section: int | None = None
    as_child: bool = False


@dataclass(frozen=True, slots=True)
class DeleteTask:
    """Remove a task's lines, sub-tasks included; with ``keep_subtasks``, only the task's
    own lines: its sub-tasks move out one level, under the task's parent."""

    line: int
    keep_subtasks: bool = False


@dataclass(frozen=True, slots=True)
class MoveTask:
    """Move a task's lines, sub-tasks included, to:

    * ``after_line``: right after the task starting on that line and its sub-tasks, as
      its next sibling;
    * ``under_line``: the task starting on that line, as its first sub-task;
    * else phase ``phase`` (an index into ``plan.phases``; ``None``: the tasks of no phase,
      before the first phase), at its end, or before its first task when ``first``.

    The first line takes the bullet of its new neighbours (numbered on in an ordered list),
    the other lines keep their place relative to it.
    """

    line: int
    after_line: int | None = None
    phase: int | None = None
    under_line: int | None = None
    first: bool = False


@dataclass(frozen=True, slots=True)
class SetDeclaredProgress:
    """Rewrite the percentage on a declared progress line (plan or phase)."""

    line: int
    percent: float


@dataclass(frozen=True, slots=True)
class SetTitle:
    """Change the plan's title (its ``#`` heading, else ``title`` in its front matter) or,
    with ``phase`` (an index into ``plan.phases``), that phase's title in its heading. Only
    the title changes: heading marks, ``Phase N`` numbering, emoji and status marks stay."""

    title: str
    phase: int | None = None


@dataclass(frozen=True, slots=True)
class SetMetadata:
    """Change the plan's ``version`` or ``date`` on the line it was read from (a date of
    the front matter there); only the value changes."""

    field: Literal["version", "date"]
    value: str


Edit = (
    SetStatus
    | SetText
    | InsertTask
    | DeleteTask
    | MoveTask
    | SetDeclaredProgress
    | SetTitle
    | SetMetadata
)
