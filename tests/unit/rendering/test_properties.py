"""Hypothesis properties: parse(apply(source, edit)) shows the edit and nothing else changed,
and every byte outside the edited lines is identical."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sync_engine.domain import Plan
from sync_engine.parsing import parse_plan
from sync_engine.rendering import (
    DeleteTask,
    InsertTask,
    MoveTask,
    SetStatus,
    SetText,
    apply_edits,
)

_WORDS = st.sampled_from(
    [
        "écrire",
        "tests",
        "API",
        "✅",
        "🚀",
        "phase",
        "données",
        "v2.1",
        "(2h)",
        "#tag",
        "l'équipe",
        "**gras**",
        "`code`",
        "naïve",
        "終わり",
    ]
)
TEXT = st.lists(_WORDS, min_size=1, max_size=6).map(" ".join)


@dataclass(frozen=True)
class Source:
    data: bytes
    newline: str


@st.composite
def plans(draw: st.DrawFn) -> Source:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bullet = draw(st.sampled_from(["- ", "* ", "*   ", "+ "]))
    done = draw(st.sampled_from(["x", "X"]))
    lines = ["# Plan 🚀", ""]
    for phase in range(1, draw(st.integers(1, 3)) + 1):
        lines += [f"## Phase {phase}: {draw(TEXT)}", ""]
        depth = -1
        for _ in range(draw(st.integers(0, 6))):
            depth = draw(st.integers(0, min(depth + 1, 3)))  # the first one is top-level
            char = draw(st.sampled_from([" ", done, "/", "-"]))
            trail = draw(st.sampled_from(["", "", "  "]))
            lines.append(
                "  " * depth * (len(bullet) // 2 or 1) + f"{bullet}[{char}] {draw(TEXT)}{trail}"
            )
        if draw(st.booleans()):  # checkboxes without bullets, as a paragraph of their own
            lines.append("")
            for _ in range(draw(st.integers(1, 3))):
                char = draw(st.sampled_from([" ", done, "/", "?"]))
                lines.append(f"[{char}] {draw(TEXT)}")
        if draw(st.booleans()):
            lines += ["", "```bash", "- [ ] not a task", "```", ""]
        lines.append("")
    body = newline.join(lines)
    if draw(st.booleans()):
        body += newline
    data = body.encode()
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return Source(data, newline)


def _signature(plan: Plan) -> list[tuple[str, str, int | None]]:
    return [(task.text, task.status, task.phase) for task in plan.tasks]


def _changed_lines(before: bytes, after: bytes) -> list[int]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [number for number, (a, b) in enumerate(zip(old, new, strict=True), 1) if a != b]


@settings(max_examples=150, deadline=None)
@given(plans(), st.data())
def test_set_status_changes_only_that_task(source: Source, data: st.DataObject) -> None:
    plan = parse_plan(source.data).plan
    assume(plan.tasks)
    task = data.draw(st.sampled_from(plan.tasks))
    status = data.draw(
        st.sampled_from(["todo", "done", "in_progress", "cancelled", "deferred", "question", "b"])
    )
    out = apply_edits(source.data, [SetStatus(task.line, status)])
    after = parse_plan(out).plan
    expected = _signature(plan)
    expected[task.index] = (task.text, status, task.phase)
    assert _signature(after) == expected
    assert set(_changed_lines(source.data, out)) <= {task.line}


@settings(max_examples=150, deadline=None)
@given(plans(), st.data(), TEXT)
def test_set_text_changes_only_that_task(source: Source, data: st.DataObject, text: str) -> None:
    plan = parse_plan(source.data).plan
    assume(plan.tasks)
    task = data.draw(st.sampled_from(plan.tasks))
    out = apply_edits(source.data, [SetText(task.line, text)])
    after = parse_plan(out).plan
    expected = _signature(plan)
    expected[task.index] = (text, task.status, task.phase)
    assert _signature(after) == expected
    assert set(_changed_lines(source.data, out)) <= {task.line}


@settings(max_examples=150, deadline=None)
@given(plans(), st.data())
def test_delete_removes_exactly_the_subtree(source: Source, data: st.DataObject) -> None:
    plan = parse_plan(source.data).plan
    assume(plan.tasks)
    task = data.draw(st.sampled_from(plan.tasks))
    out = apply_edits(source.data, [DeleteTask(task.line)])
    removed = {t.index for t in plan.tasks if task.line <= t.line <= task.end_line}
    expected = [sig for index, sig in enumerate(_signature(plan)) if index not in removed]
    assert _signature(parse_plan(out).plan) == expected
    old_lines = source.data.splitlines(keepends=True)
    kept = old_lines[: task.line - 1] + old_lines[task.end_line :]
    if not out.endswith((b"\n", b"\r")) and kept:
        kept[-1] = kept[-1].rstrip(b"\r\n")
    assert out == b"".join(kept)


@settings(max_examples=150, deadline=None)
@given(plans(), st.data(), TEXT)
def test_insert_adds_one_task_and_one_line(source: Source, data: st.DataObject, text: str) -> None:
    plan = parse_plan(source.data).plan
    assume(plan.tasks)
    anchor = data.draw(st.sampled_from(plan.tasks))
    out = apply_edits(source.data, [InsertTask(text, after_line=anchor.line)])
    after = parse_plan(out).plan
    assert len(after.tasks) == len(plan.tasks) + 1
    new = after.task_at_line(anchor.end_line + 1)
    assert new is not None
    assert new.text == text
    assert new.status == "todo"
    assert [sig for sig in _signature(after) if sig != (text, "todo", anchor.phase)] == [
        sig for sig in _signature(plan) if sig != (text, "todo", anchor.phase)
    ]
    old_lines, new_lines = source.data.splitlines(), out.splitlines()
    assert new_lines[: anchor.end_line] == old_lines[: anchor.end_line]
    assert new_lines[anchor.end_line + 1 :] == old_lines[anchor.end_line :]


@settings(max_examples=100, deadline=None)
@given(plans(), st.data())
def test_move_keeps_every_task(source: Source, data: st.DataObject) -> None:
    plan = parse_plan(source.data).plan
    assume(len(plan.phases) > 1 and plan.tasks)
    task = data.draw(st.sampled_from(plan.tasks))
    target = data.draw(st.integers(0, len(plan.phases) - 1))
    out = apply_edits(source.data, [MoveTask(task.line, phase=target)])
    after = parse_plan(out).plan
    assert sorted((t.text, t.status) for t in after.tasks) == sorted(
        (t.text, t.status) for t in plan.tasks
    )
    moved = [t for t in after.tasks if t.text == task.text and t.phase == target]
    assert moved
