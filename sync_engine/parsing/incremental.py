"""A plan whose checkboxes alone changed, read again without a markdown-it pass.

The write-back of a sync mostly ticks, unticks or re-marks checkboxes. Such a change cannot
move a block boundary: the character sits inside the ``[c]`` that opens a list item's
paragraph, where no block rule looks (a fence, heading, HTML block or link definition
would have to start with something else than ``[``). So the plan read from the new bytes
is the old one with those tasks' character and status changed, and the lines and source
hash of the new bytes; the parse of a plan is most of the work of syncing it, and this
costs a decode. Anything else (a text, an inserted or removed line, a bare ``[ ]`` outside
a list, a character that would no longer make a task) is left to a full parse.
"""

from __future__ import annotations

import dataclasses
import hashlib

from sync_engine.domain.model import Task
from sync_engine.domain.status import StatusTable
from sync_engine.parsing.decoding import decode, line_body, line_ending
from sync_engine.parsing.parser import _LEGEND, ParseResult

__all__ = ["reparse_checkboxes"]


def reparse_checkboxes(
    previous: ParseResult, data: bytes, table: StatusTable
) -> ParseResult | None:
    """What ``parse_plan(data)`` gives, when ``data`` differs from the source of
    ``previous`` only in the checkbox characters of list-item tasks; else ``None``."""
    plan = previous.plan
    if plan.flags.skip_sync:
        return None
    decoded = decode(data)
    lines = decoded.lines()
    if (
        not decoded.exact
        or (decoded.encoding, decoded.bom) != (plan.source.encoding, plan.source.bom)
        or len(lines) != len(previous.lines)
    ):
        return None
    by_line = {task.line: task for task in plan.tasks}
    tasks = list(plan.tasks)
    for number, (old, new) in enumerate(zip(previous.lines, lines, strict=True), start=1):
        if old == new:
            continue
        task = by_line.get(number)
        char = _new_checkbox(task, old, new, table) if task is not None else None
        if task is None or char is None:
            return None
        tasks[task.index] = dataclasses.replace(task, char=char, status=table.status_of(char))
    source = dataclasses.replace(
        plan.source, size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )
    return ParseResult(
        plan=dataclasses.replace(plan, tasks=tuple(tasks), source=source), lines=tuple(lines)
    )


def _new_checkbox(task: Task, old: str, new: str, table: StatusTable) -> str | None:
    """The task's new checkbox character, when that is all that differs between its old
    and new line and the line still reads as the same task; else ``None``."""
    if not task.bulleted or line_ending(old) != line_ending(new):
        return None
    old_body, new_body = line_body(old), line_body(new)
    at = old_body.find("[") + 1  # the bullet before it holds no bracket
    if at == 0 or old_body[at : at + 2] != f"{task.char}]":
        return None
    head, tail = old_body[:at], old_body[at + 1 :]
    if len(new_body) < len(head) + len(tail) + 1:
        return None
    char = new_body[at : len(new_body) - len(tail)]
    if not (new_body.startswith(head) and new_body.endswith(tail)) or len(char) != 1:
        return None
    # The parser's own conditions for a list item to be a task (see _paragraph_tasks).
    if not table.is_checkbox_char(char) or (char not in " xX" and _LEGEND.match(task.text)):
        return None
    return char
