"""Minimal-edit rendering: apply edits to a plan's bytes, changing only the lines concerned.

Every byte not concerned stays identical — encoding, BOM, line endings (per line), trailing
spaces, indentation, emoji. All edits of one batch refer to line numbers of the source they
are applied to; the document is kept as original line slots with replacements, deletions,
insertions and moves, and only joined at the end (see :mod:`~sync_engine.rendering.document`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sync_engine.domain.model import Plan, Task
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable
from sync_engine.parsing.decoding import encode, line_body, line_ending
from sync_engine.parsing.parser import ParseResult, parse_plan
from sync_engine.rendering.document import (
    ORDINAL,
    TASK_LINE,
    Document,
    NewTask,
    RenderError,
    Style,
    shifted,
)
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
from sync_engine.rendering.metadata import set_metadata, set_title

_PERCENT = re.compile(r"(?P<number>\d{1,3}(?:[.,]\d+)?)(?P<space>[ \u00a0\u202f]*)%")
_PROGRESS_WORD = re.compile(r"progress|avancement|complétion|completion", re.IGNORECASE)


def _task(plan: Plan, line: int) -> Task:
    task = plan.task_at_line(line)
    if task is None:
        raise RenderError(f"no task starts on line {line} of {plan.path}")
    return task


def _split_task_line(body: str, line: int) -> re.Match[str]:
    match = TASK_LINE.match(body)
    if match is None:
        raise RenderError(f"line {line} is not a task line: {body!r}")
    return match


def _set_status(doc: Document, plan: Plan, edit: SetStatus, table: StatusTable) -> None:
    _task(plan, edit.line)
    line = doc.current(edit.line)
    body, ending = line_body(line), line_ending(line)
    match = _split_task_line(body, edit.line)
    char = _char_for(table, edit.status, plan, f"line {edit.line}")
    if char == match["char"] or (table.status_of(match["char"]) == edit.status):
        return
    start = match.start("char")
    doc.replaced[edit.line] = body[:start] + char + body[start + 1 :] + ending


def _set_text(doc: Document, plan: Plan, edit: SetText) -> None:
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
    match = TASK_LINE.match(body)
    if match is None:
        return "- ", " "
    return match["prefix"], match["gap"] or " "


def _new_task(style: Style, gap: str, char: str, text: str) -> NewTask:
    return NewTask(style, f"[{char}]{gap}{_one_line(text, 'a new task')}")


def _last_task_block(tasks: list[Task]) -> Task | None:
    top = [
        task
        for task in tasks
        if task.parent is None or all(other.index != task.parent for other in tasks)
    ]
    candidates = top or tasks
    return max(candidates, key=lambda task: task.end_line) if candidates else None


def _first_in_area(doc: Document, start: int, end: int) -> tuple[int, list[str | NewTask]]:
    """Where a first task goes in lines ``start..end`` that hold none: after their last
    non-blank line (that stays there), with a blank line before it when that line is text."""
    where = end
    while where > start and (not line_body(doc.lines[where - 1]).strip() or not doc.stays(where)):
        where -= 1
    blank: list[str | NewTask] = (
        [""] if where > 0 and line_body(doc.lines[where - 1]).strip() else []
    )
    return where, blank


def _char_for(table: StatusTable, status: str, plan: Plan, where: str) -> str:
    try:
        return table.char_for(status, plan.done_style)
    except ValueError as error:
        raise RenderError(f"{where}: {error}") from error


def _insert(doc: Document, plan: Plan, edit: InsertTask, table: StatusTable) -> None:
    char = _char_for(table, edit.status, plan, "a new task")
    if edit.after_line is not None:
        anchor = _task(plan, edit.after_line)
        _, gap = _style_of(line_body(doc.lines[anchor.line - 1]))
        style = Style("child" if edit.as_child else "next", anchor.line)
        where = anchor.line if edit.as_child else doc.block_end(anchor)
        doc.insert_after(where, [_new_task(style, gap, char, edit.text)])
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
    last = _last_task_block([task for task in tasks if doc.stays(task.line)])
    if last is not None:
        _, gap = _style_of(line_body(doc.lines[last.line - 1]))
        new_task = _new_task(Style("next", last.line), gap, char, edit.text)
        doc.insert_after(doc.block_end(last), [new_task])
        return
    prefix, gap = _house_style(plan, doc)
    where, blank = _first_in_area(doc, start, end)
    doc.insert_after(
        where, [*blank, _new_task(Style("fixed", prefix=prefix), gap, char, edit.text)]
    )


def _house_style(plan: Plan, doc: Document) -> tuple[str, str]:
    """The bullet and gap of the plan's top-level tasks, or ``- `` when it has none."""
    for task in plan.tasks:
        if task.parent is None and task.bulleted:
            prefix, gap = _style_of(line_body(doc.lines[task.line - 1]))
            return (prefix.lstrip(" \t") if ORDINAL.match(prefix) is None else "1. "), gap
    return "- ", " "


def _delete(doc: Document, plan: Plan, edit: DeleteTask) -> None:
    task = _task(plan, edit.line)
    children = [other for other in plan.tasks if other.parent == task.index]
    if not edit.keep_subtasks or not children:
        lines = set(range(task.line, task.end_line + 1))
        for inner in plan.tasks:  # sub-tasks moved elsewhere go on living there
            if task.line < inner.line <= task.end_line and inner.line in doc.moved:
                lines -= set(range(inner.line, inner.end_line + 1))
        doc.deleted.update(lines)
        return
    first = children[0]
    doc.deleted.update(range(task.line, first.line))
    delta = task.indent - first.indent
    for number in range(first.line, task.end_line + 1):
        line = doc.current(number)
        doc.replaced[number] = shifted(line_body(line), delta) + line_ending(line)


def _move(doc: Document, plan: Plan, edit: MoveTask) -> None:
    task = _task(plan, edit.line)
    block = doc.moved[task.line]
    if edit.after_line is not None or edit.under_line is not None:
        anchor = _task(plan, edit.after_line or edit.under_line or 0)
        if edit.after_line is not None:
            doc.place(block, doc.block_end(anchor), Style("next", anchor.line))
            return
        first = next(iter(plan.children_of(anchor.index)), None)
        if first is not None:  # before the first sub-task, after the parent's own lines
            doc.place(block, first.line - 1, Style("same", first.line))
        else:
            doc.place(block, doc.block_end(anchor), Style("child", anchor.line))
        return
    tasks, start, end = _phase_area(plan, doc, edit.phase)
    tasks = [other for other in tasks if not task.line <= other.line <= task.end_line]
    if edit.first and tasks:
        first = min(tasks, key=lambda other: other.line)
        doc.place(block, first.line - 1, Style("same", first.line))
        return
    last = _last_task_block([other for other in tasks if doc.stays(other.line)])
    if last is not None:
        doc.place(block, doc.block_end(last), Style("next", last.line))
        return
    where, blank = _first_in_area(doc, start, end)
    doc.insert_after(where, blank)
    prefix = _style_of(line_body(doc.lines[task.line - 1]))[0].lstrip(" \t")
    doc.place(block, where, Style("fixed", prefix=prefix))


def _phase_area(plan: Plan, doc: Document, phase: int | None) -> tuple[list[Task], int, int]:
    """The tasks of a phase (``None``: of no phase) and the lines a first one may go in
    (for no phase: the lines before the first phase)."""
    if phase is None:
        end = plan.phases[0].line - 1 if plan.phases else len(doc.lines)
        return plan.tasks_in_phase(None), 0, end
    if not 0 <= phase < len(plan.phases):
        raise RenderError(f"{plan.path} has no phase index {phase}")
    found = plan.phases[phase]
    return plan.tasks_in_phase(found.index), found.line, found.end_line


def _set_progress(doc: Document, edit: SetDeclaredProgress) -> None:
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
    doc = Document(
        list(parsed.lines), plan.source.newline, frozenset(task.line for task in plan.tasks)
    )
    edits = list(edits)
    for edit in edits:  # moved lines are known first: other edits keep clear of them
        if isinstance(edit, MoveTask):
            doc.will_move(_task(plan, edit.line))
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
        elif isinstance(edit, SetTitle):
            set_title(doc, plan, edit)
        elif isinstance(edit, SetMetadata):
            set_metadata(doc, plan, edit)
        else:
            _set_progress(doc, edit)
    doc.check_moves()
    return encode(doc.render(), plan.source.encoding, plan.source.bom)
