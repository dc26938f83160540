"""Minimal-edit rendering: apply edits to a plan's bytes, changing only the lines concerned.

Every byte not concerned stays identical — encoding, BOM, line endings (per line), trailing
spaces, indentation, emoji. All edits of one batch refer to line numbers of the source they
are applied to; the document is kept as original line slots with replacements, deletions and
insertions, and only joined at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sync_engine.domain.model import Plan, Task
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable
from sync_engine.parsing.decoding import encode, line_body, line_ending
from sync_engine.parsing.parser import ParseResult, parse_plan
from sync_engine.rendering.edits import (
    DeleteTask,
    Edit,
    InsertTask,
    MoveTask,
    SetDeclaredProgress,
    SetStatus,
    SetText,
)

_TASK_LINE = re.compile(
    r"^(?P<prefix>[ \t]*(?:>[ \t]?)*[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+)?)"
    r"\[(?P<char>[^\]\[])\](?P<gap>[ \t]*)(?P<text>.*?)(?P<trail>[ \t]*)$"
)
_ORDINAL = re.compile(r"^(?P<indent>[ \t]*(?:>[ \t]?)*[ \t]*)(?P<number>\d+)(?P<rest>[.)][ \t]+)$")
_PERCENT = re.compile(r"(?P<number>\d{1,3}(?:[.,]\d+)?)(?P<space>[ \u00a0\u202f]*)%")
_PROGRESS_WORD = re.compile(r"progress|avancement|complétion|completion", re.IGNORECASE)


class RenderError(ValueError):
    """An edit cannot be applied: it names no task, or the file cannot be written exactly."""


@dataclass(slots=True)
class _Document:
    lines: list[str]
    newline: str
    replaced: dict[int, str] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    inserted_after: dict[int, list[str]] = field(default_factory=dict)

    def current(self, number: int) -> str:
        return self.replaced.get(number, self.lines[number - 1])

    def insert_after(self, number: int, bodies: list[str]) -> None:
        self.inserted_after.setdefault(number, []).extend(bodies)

    def render(self) -> str:
        pieces: list[list[str]] = []  # [body, ending]
        for body in self.inserted_after.get(0, []):
            pieces.append([body, self.newline])
        for number in range(1, len(self.lines) + 1):
            if number not in self.deleted:
                line = self.current(number)
                pieces.append([line_body(line), line_ending(line)])
            for body in self.inserted_after.get(number, []):
                pieces.append([body, self.newline])
        for piece in pieces[:-1]:
            if not piece[1]:
                piece[1] = self.newline
        if pieces and self.lines and not line_ending(self.lines[-1]):
            pieces[-1][1] = ""  # the file had no final newline: it still has none
        return "".join(body + ending for body, ending in pieces)


def _task(plan: Plan, line: int) -> Task:
    task = plan.task_at_line(line)
    if task is None:
        raise RenderError(f"no task starts on line {line} of {plan.path}")
    return task


def _split_task_line(body: str, line: int) -> re.Match[str]:
    match = _TASK_LINE.match(body)
    if match is None:
        raise RenderError(f"line {line} is not a task line: {body!r}")
    return match


def _set_status(doc: _Document, plan: Plan, edit: SetStatus, table: StatusTable) -> None:
    _task(plan, edit.line)
    line = doc.current(edit.line)
    body, ending = line_body(line), line_ending(line)
    match = _split_task_line(body, edit.line)
    char = _char_for(table, edit.status, plan, f"line {edit.line}")
    if char == match["char"] or (table.status_of(match["char"]) == edit.status):
        return
    start = match.start("char")
    doc.replaced[edit.line] = body[:start] + char + body[start + 1 :] + ending


def _set_text(doc: _Document, plan: Plan, edit: SetText) -> None:
    _task(plan, edit.line)
    line = doc.current(edit.line)
    body, ending = line_body(line), line_ending(line)
    match = _split_task_line(body, edit.line)
    gap = match["gap"] or " "
    new_text = _one_line(edit.text, f"line {edit.line}")
    doc.replaced[edit.line] = body[: match.start("gap")] + gap + new_text + match["trail"] + ending


def _one_line(text: str, where: str) -> str:
    """A task's text as written: stripped; it must be one line, not blank (a checkbox with
    no text reads as no task)."""
    if "\n" in text or "\r" in text:
        raise RenderError(f"{where}: a task's text is one line; it cannot contain line breaks")
    if not text.strip():
        raise RenderError(f"{where}: a task's text cannot be blank")
    return text.strip()


def _style_of(body: str) -> tuple[str, str]:
    """The prefix (indentation + bullet) and the gap after the checkbox of a task line."""
    match = _TASK_LINE.match(body)
    if match is None:
        return "- ", " "
    return match["prefix"], match["gap"] or " "


def _next_prefix(prefix: str) -> str:
    ordinal = _ORDINAL.match(prefix)
    if ordinal is None:
        return prefix
    return ordinal["indent"] + str(int(ordinal["number"]) + 1) + ordinal["rest"]


def _child_prefix(prefix: str) -> str:
    ordinal = _ORDINAL.match(prefix)
    bullet_width = len(prefix) - len(prefix.lstrip(" \t>"))
    if ordinal is not None:
        width = len(ordinal["number"]) + len(ordinal["rest"])
        return " " * (bullet_width + width) + "- "
    stripped = prefix.lstrip(" \t>")
    return prefix[: len(prefix) - len(stripped)] + "  " + stripped


def _new_task_line(prefix: str, gap: str, char: str, text: str) -> str:
    return f"{prefix}[{char}]{gap}{_one_line(text, 'a new task')}"


def _last_task_block(tasks: list[Task]) -> Task | None:
    top = [
        task
        for task in tasks
        if task.parent is None or all(other.index != task.parent for other in tasks)
    ]
    candidates = top or tasks
    return max(candidates, key=lambda task: task.end_line) if candidates else None


def _char_for(table: StatusTable, status: str, plan: Plan, where: str) -> str:
    try:
        return table.char_for(status, plan.done_style)
    except ValueError as error:
        raise RenderError(f"{where}: {error}") from error


def _insert(doc: _Document, plan: Plan, edit: InsertTask, table: StatusTable) -> None:
    char = _char_for(table, edit.status, plan, "a new task")
    if edit.after_line is not None:
        anchor = _task(plan, edit.after_line)
        prefix, gap = _style_of(line_body(doc.lines[anchor.line - 1]))
        prefix = _child_prefix(prefix) if edit.as_child else _next_prefix(prefix)
        where = anchor.line if edit.as_child else anchor.end_line
        doc.insert_after(where, [_new_task_line(prefix, gap, char, edit.text)])
        return
    if edit.phase is not None:
        if not 0 <= edit.phase < len(plan.phases):
            raise RenderError(f"{plan.path} has no phase index {edit.phase}")
        phase = plan.phases[edit.phase]
        tasks, start, end = plan.tasks_in_phase(phase.index), phase.line, phase.end_line
    elif edit.section is not None:
        if not 0 <= edit.section < len(plan.sections):
            raise RenderError(f"{plan.path} has no section index {edit.section}")
        section = plan.sections[edit.section]
        tasks = [task for task in plan.tasks if section.line < task.line <= section.end_line]
        start, end = section.line, section.end_line
    else:
        tasks, start, end = list(plan.tasks), 0, len(doc.lines)
    last = _last_task_block(tasks)
    if last is not None:
        prefix, gap = _style_of(line_body(doc.lines[last.line - 1]))
        doc.insert_after(
            last.end_line, [_new_task_line(_next_prefix(prefix), gap, char, edit.text)]
        )
        return
    prefix, gap = _house_style(plan, doc)
    where = end
    while where > start and not line_body(doc.lines[where - 1]).strip():
        where -= 1
    new_line = _new_task_line(prefix, gap, char, edit.text)
    needs_blank = where > 0 and bool(line_body(doc.lines[where - 1]).strip())
    doc.insert_after(where, ["", new_line] if needs_blank else [new_line])


def _house_style(plan: Plan, doc: _Document) -> tuple[str, str]:
    """The bullet and gap of the plan's top-level tasks, or ``- `` when it has none."""
    for task in plan.tasks:
        if task.parent is None and task.bulleted:
            prefix, gap = _style_of(line_body(doc.lines[task.line - 1]))
            ordinal = _ORDINAL.match(prefix)
            return (prefix.lstrip(" \t") if ordinal is None else "1. "), gap
    return "- ", " "


def _delete(doc: _Document, plan: Plan, edit: DeleteTask) -> None:
    task = _task(plan, edit.line)
    children = [other for other in plan.tasks if other.parent == task.index]
    if not edit.keep_subtasks or not children:
        doc.deleted.update(range(task.line, task.end_line + 1))
        return
    first = children[0]
    doc.deleted.update(range(task.line, first.line))
    delta = task.indent - first.indent
    for number in range(first.line, task.end_line + 1):
        line = doc.current(number)
        (body,) = _reindent([line_body(line)], delta)
        doc.replaced[number] = body + line_ending(line)


def _reindent(bodies: list[str], delta: int) -> list[str]:
    if delta == 0:
        return bodies
    out = []
    for body in bodies:
        if delta > 0:
            out.append(" " * delta + body if body.strip() else body)
        else:
            strip = min(-delta, len(body) - len(body.lstrip(" ")))
            out.append(body[strip:])
    return out


def _move(doc: _Document, plan: Plan, edit: MoveTask) -> None:
    task = _task(plan, edit.line)
    block = [line_body(doc.current(n)) for n in range(task.line, task.end_line + 1)]
    if edit.after_line is not None:
        target = _task(plan, edit.after_line)
        if task.line <= target.line <= task.end_line:
            raise RenderError("a task cannot be moved under itself")
        where, target_indent = target.end_line, target.indent
    elif edit.phase is not None:
        if not 0 <= edit.phase < len(plan.phases):
            raise RenderError(f"{plan.path} has no phase index {edit.phase}")
        phase = plan.phases[edit.phase]
        others = [
            t
            for t in plan.tasks_in_phase(phase.index)
            if not (task.line <= t.line <= task.end_line)
        ]
        last = _last_task_block(others)
        if last is not None:
            where, target_indent = last.end_line, last.indent
        else:
            where, target_indent = phase.line, 0
            block = ["", *block]
    else:
        raise RenderError("a move needs a target task or phase")
    doc.deleted.update(range(task.line, task.end_line + 1))
    doc.insert_after(where, _reindent(block, target_indent - task.indent))


def _set_progress(doc: _Document, edit: SetDeclaredProgress) -> None:
    if not 1 <= edit.line <= len(doc.lines):
        raise RenderError(f"line {edit.line} does not exist")
    line = doc.current(edit.line)
    body, ending = line_body(line), line_ending(line)
    word = _PROGRESS_WORD.search(body)
    match = _PERCENT.search(body, word.end() if word else 0)
    if match is None:
        raise RenderError(f"line {edit.line} holds no progress percentage")
    value = f"{edit.percent:g}" if edit.percent != int(edit.percent) else str(int(edit.percent))
    doc.replaced[edit.line] = (
        body[: match.start("number")] + value + body[match.end("number") :] + (ending)
    )


def apply_edits(
    data: bytes,
    edits: Iterable[Edit],
    table: StatusTable = DEFAULT_STATUS_TABLE,
    parsed: ParseResult | None = None,
) -> bytes:
    """Apply ``edits`` to a plan file's bytes and return the new bytes.

    Raises:
        RenderError: the file cannot be written back exactly (undecodable or holding
            merge-conflict markers) or an edit names no task / an impossible place.
    """
    parsed = parsed or parse_plan(data, table=table)
    plan = parsed.plan
    if plan.flags.skip_sync:
        raise RenderError(
            f"{plan.path} is not written: it holds " + " and ".join(plan.flags.reasons())
        )
    doc = _Document(list(parsed.lines), plan.source.newline)
    for edit in edits:
        if isinstance(edit, SetStatus):
            _set_status(doc, plan, edit, table)
        elif isinstance(edit, SetText):
            _set_text(doc, plan, edit)
        elif isinstance(edit, InsertTask):
            _insert(doc, plan, edit, table)
        elif isinstance(edit, DeleteTask):
            _delete(doc, plan, edit)
        elif isinstance(edit, MoveTask):
            _move(doc, plan, edit)
        else:
            _set_progress(doc, edit)
    return encode(doc.render(), plan.source.encoding, plan.source.bom)
