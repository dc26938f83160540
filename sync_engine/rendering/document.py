"""The document an edit batch works on: the source lines and what the edits did to them.

Edits only record: a line replaced, a line deleted, new lines or a moved task's lines to
place after a line. The document is joined once, at the end. Lines added after a line go
wherever that line goes: after a line of a moved task, they move with it.

A moved task's lines (its sub-tasks included) are taken out of their place and rendered
where the move put them: the first line with the bullet of its new neighbours, the others
shifted to the new indentation, with any edit made to them. The bullet of a new or moved
task is worked out as the document is joined, from its neighbour as written there, so that
a task placed after a moved task takes that task's new bullet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sync_engine.domain.model import Task
from sync_engine.parsing.decoding import line_body, line_ending

__all__ = [
    "ORDINAL",
    "TASK_LINE",
    "Document",
    "MovedBlock",
    "NewTask",
    "RenderError",
    "Style",
    "child_prefix",
    "next_prefix",
    "shifted",
]

TASK_LINE = re.compile(
    r"^(?P<prefix>[ \t]*(?:>[ \t]?)*[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+)?)"
    r"\[(?P<char>[^\]\[])\](?P<gap>[ \t]*)(?P<text>.*?)(?P<trail>[ \t]*)$"
)
ORDINAL = re.compile(r"^(?P<indent>[ \t]*(?:>[ \t]?)*[ \t]*)(?P<number>\d+)(?P<rest>[.)][ \t]+)$")


class RenderError(ValueError):
    """An edit cannot be applied: it names no task, or the file cannot be written exactly."""


def next_prefix(prefix: str) -> str:
    """The prefix of the next item of a list: the same, numbered one more when ordered."""
    ordinal = ORDINAL.match(prefix)
    if ordinal is None:
        return prefix
    return ordinal["indent"] + str(int(ordinal["number"]) + 1) + ordinal["rest"]


def child_prefix(prefix: str) -> str:
    """The prefix of a first sub-item under an item with this prefix: a bullet at the
    column where the item's content starts (a ``-`` under a numbered item)."""
    ordinal = ORDINAL.match(prefix)
    stripped = prefix.lstrip(" \t>")
    lead = prefix[: len(prefix) - len(stripped)]
    if ordinal is not None:
        return " " * len(prefix) + "- "
    return lead + " " * len(stripped) + stripped


def shifted(body: str, columns: int) -> str:
    """``body`` indented ``columns`` more spaces (fewer when negative; blank lines as they
    are; only spaces are removed)."""
    if columns == 0 or not body.strip():
        return body
    if columns > 0:
        return " " * columns + body
    strip = min(-columns, len(body) - len(body.lstrip(" ")))
    return body[strip:]


_BULLET_END = re.compile(r"(?:[-*+]|\d+[.)])[ \t]+$")
# A line that starts a block of its own (a list item, heading, quote, fence, HTML, rule).
_BLOCK_START = re.compile(
    r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)"
    r"|^ {0,3}(?:#{1,6}(?:[ \t]|$)|>|`{3,}|~{3,}|<|(?:[-*_][ \t]*){3,}$)"
)


def _with_bullet(prefix: str, own: str) -> str:
    """A moved task's prefix: ``prefix``, with the task's own bullet when ``prefix`` has
    none (placed beside a checkbox written without one) and the task had one: a checkbox
    with no bullet holds only some states and no sub-tasks."""
    if _BULLET_END.search(prefix) or not _BULLET_END.search(own):
        return prefix
    return prefix + own.lstrip(" \t>")


def _shifted_prefix(prefix: str, columns: int) -> str:
    if columns >= 0:
        return " " * columns + prefix
    strip = min(-columns, len(prefix) - len(prefix.lstrip(" ")))
    return prefix[strip:]


@dataclass(frozen=True, slots=True)
class Style:
    """Where a new or moved task line takes its prefix (indentation and bullet) from:

    * ``next``: the next item after the task on ``line`` (its prefix as rendered);
    * ``same``: the prefix the task on ``line`` has where the new line goes (a line placed
      right before that task);
    * ``child``: a first sub-item of the task on ``line``;
    * ``fixed``: ``prefix`` as it is.
    """

    kind: Literal["next", "same", "child", "fixed"]
    line: int = 0
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class NewTask:
    """A task line an edit adds: its prefix follows ``style``, ``rest`` is the checkbox and
    the text."""

    style: Style
    rest: str


@dataclass(slots=True)
class MovedBlock:
    """A moved task's lines, rendered where they were placed (once placed)."""

    task: Task
    where: int | None = None
    style: Style | None = None


@dataclass(slots=True)
class Document:
    lines: list[str]
    newline: str
    task_lines: frozenset[int] = frozenset()
    replaced: dict[int, str] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    inserted_after: dict[int, list[str | NewTask | MovedBlock]] = field(default_factory=dict)
    moved: dict[int, MovedBlock] = field(default_factory=dict)  # by the task's first line
    _rendered: dict[int, str] = field(default_factory=dict)  # a task line's prefix as joined
    # The last line joined ends a list item that was moved here: paragraph text joined next
    # would read as part of that item (a lazy continuation line) without a blank line.
    _item_ended: bool = False

    def current(self, number: int) -> str:
        return self.replaced.get(number, self.lines[number - 1])

    def insert_after(self, number: int, items: list[str | NewTask]) -> None:
        self.inserted_after.setdefault(number, []).extend(items)

    # -- moves ------------------------------------------------------------------------------

    def will_move(self, task: Task) -> MovedBlock:
        """Take the task's lines out of their place; ``place`` puts them somewhere."""
        if task.line in self.moved:
            raise RenderError(f"the task on line {task.line} is moved twice")
        block = self.moved[task.line] = MovedBlock(task)
        return block

    def place(self, block: MovedBlock, where: int, style: Style) -> None:
        """Render the moved block after line ``where`` (0: at the top)."""
        block.where, block.style = where, style
        self.inserted_after.setdefault(where, []).append(block)

    def _holding(self, line: int, within: Task | None = None) -> list[MovedBlock]:
        """The moved blocks holding ``line`` (only those inside ``within``'s lines, other
        than ``within`` itself, when given), outermost first."""
        found = [
            block
            for block in self.moved.values()
            if block.task.line <= line <= block.task.end_line
            and (within is None or within.line < block.task.line <= within.end_line)
        ]
        return sorted(found, key=lambda block: block.task.line)

    def stays(self, line: int) -> bool:
        """Whether the line stays where it is (it is in no moved block)."""
        return not self._holding(line)

    def block_end(self, task: Task) -> int:
        """The last line of the task and the sub-tasks that stay with it (sub-tasks moved
        away and trailing blank lines left out): what goes after the task goes after it."""
        end = task.end_line
        while end > task.line:
            inner = self._holding(end, within=task)
            if inner:
                end = inner[0].task.line - 1
            elif not line_body(self.lines[end - 1]).strip():
                end -= 1
            else:
                break
        return end

    def check_moves(self) -> None:
        """Every moved block is placed, and none ends up inside itself (placed among the
        lines of a block that is placed among its own)."""
        for block in self.moved.values():
            seen = [block.task.line]
            holder: MovedBlock | None = block
            while holder is not None:
                if holder.where is None:
                    raise RenderError(f"the task on line {holder.task.line} is moved nowhere")
                holders = self._holding(holder.where)
                holder = holders[-1] if holders else None  # the innermost: where it renders
                if holder is not None and holder.task.line in seen:
                    lines = ", ".join(map(str, sorted(seen)))
                    raise RenderError(
                        f"a task cannot be moved under itself (the moves of lines {lines})"
                    )
                if holder is not None:
                    seen.append(holder.task.line)

    # -- joining ----------------------------------------------------------------------------

    def render(self) -> str:
        pieces: list[list[str]] = []  # [body, ending]
        self._rendered.clear()
        self._item_ended = False
        self._flow(0, len(self.lines), 0, None, pieces)
        for piece in pieces[:-1]:
            if not piece[1]:
                piece[1] = self.newline
        if pieces and self.lines and not line_ending(self.lines[-1]):
            pieces[-1][1] = ""  # the file had no final newline: it still has none
        return "".join(body + ending for body, ending in pieces)

    def _flow(
        self,
        start: int,
        end: int,
        shift: int,
        own: tuple[MovedBlock, str] | None,
        pieces: list[list[str]],
    ) -> None:
        """Lines ``start..end`` where they are rendered: shifted by ``shift`` columns, and
        when they are a moved block (``own``), its first line with its new prefix."""
        number = start
        while number <= end:
            block = self.moved.get(number)
            if block is not None and (own is None or block is not own[0]):
                number = block.task.end_line + 1  # rendered where it was placed
                continue
            if number > 0 and number not in self.deleted:
                line = self.current(number)
                body = line_body(line)
                if own is not None and number == own[0].task.line:
                    match = TASK_LINE.match(body)
                    body = own[1] + body[match.end("prefix") :] if match else body
                else:
                    body = shifted(body, shift)
                if number in self.task_lines:
                    match = TASK_LINE.match(body)
                    if match is not None:
                        self._rendered[number] = match["prefix"]
                if self._item_ended and body.strip() and _BLOCK_START.match(body) is None:
                    pieces.append(["", self.newline])  # else it would read as part of that item
                self._item_ended = False
                pieces.append([body, line_ending(line)])
            for item in self.inserted_after.get(number, ()):
                if isinstance(item, str):
                    pieces.append([shifted(item, shift), self.newline])
                    self._item_ended = False
                elif isinstance(item, NewTask):
                    pieces.append([self._prefix(item.style, shift) + item.rest, self.newline])
                    self._item_ended = False
                else:
                    assert item.style is not None
                    was = self._prefix_at(item.task.line)
                    prefix = _with_bullet(self._prefix(item.style, shift), was)
                    columns = len(prefix) - len(was)
                    task = item.task
                    self._flow(task.line, task.end_line, columns, (item, prefix), pieces)
                    # A list item ends here, or a list item placed at the block's end
                    # (the block itself may be a paragraph's checkbox).
                    self._item_ended = self._item_ended or bool(_BULLET_END.search(prefix))
            number += 1

    def _prefix_at(self, line: int) -> str:
        """The prefix of a task line where it stands, other edits made (a parent's deletion
        may have moved its sub-tasks out one level)."""
        match = TASK_LINE.match(line_body(self.current(line)))
        return match["prefix"] if match else ""

    def _prefix(self, style: Style, shift: int) -> str:
        """The prefix of a line placed in a flow shifted by ``shift`` columns."""
        if style.kind == "fixed":
            return style.prefix
        written = self._rendered.get(style.line)
        if written is None or style.kind == "same":
            written = _shifted_prefix(self._prefix_at(style.line), shift)
        if style.kind == "next":
            return next_prefix(written)
        if style.kind == "child":
            return child_prefix(written)
        return written
