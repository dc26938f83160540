"""A parsed plan as the rows the store keeps (plan, phases, sections, tasks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sync_engine.domain.ids import random_ids
from sync_engine.domain.model import Plan
from sync_engine.domain.progress import compute_progress
from sync_engine.domain.serialization import jsonable
from sync_engine.domain.status import StatusTable
from sync_engine.ports.records import (
    PhaseRow,
    PlanRow,
    SectionRow,
    StoredTask,
    TaskRow,
)
from sync_engine.validation.validator import ValidationReport


def plan_row(
    plan: Plan,
    report: ValidationReport,
    table: StatusTable,
    stat: tuple[int, int, int],
    git_blob: str | None,
) -> PlanRow:
    overall, _ = compute_progress(plan, table)
    size, mtime_ns, inode = stat
    return PlanRow(
        path=plan.path,
        title=plan.title,
        version=plan.version,
        date=plan.date,
        declared_progress=plan.declared_progress,
        computed_progress=overall.percent,
        front_matter=jsonable(plan.front_matter),
        metadata=dict(plan.metadata),
        content_hash=plan.source.sha256,
        git_blob=git_blob,
        size=size,
        mtime_ns=mtime_ns,
        inode=inode,
        score=report.score,
        findings=[finding.to_dict() for finding in report.findings],
    )


def phase_rows(plan: Plan, table: StatusTable) -> list[PhaseRow]:
    _, per_phase = compute_progress(plan, table)
    rows = []
    for phase in plan.phases:
        progress = per_phase.get(phase.index)
        rows.append(
            PhaseRow(
                position=phase.index,
                number=phase.number,
                title=phase.title,
                heading=phase.heading,
                level=phase.level,
                line=phase.line,
                end_line=phase.end_line,
                declared_progress=phase.declared_progress,
                computed_progress=progress.percent if progress else None,
            )
        )
    return rows


def section_rows(plan: Plan) -> list[SectionRow]:
    return [
        SectionRow(
            position=section.index,
            level=section.level,
            title=section.title,
            line=section.line,
            end_line=section.end_line,
            parent_position=section.parent,
            phase_position=section.phase,
        )
        for section in plan.sections
    ]


def task_rows(
    plan: Plan,
    stored_for: Sequence[str | None],
    new_id: Callable[[], str] | None = None,
) -> list[TaskRow]:
    """Rows for every task of the plan, keeping matched ids and making new ones. Inline
    fields keep only the ones that are set."""
    fresh = random_ids(sum(1 for task_id in stored_for if task_id is None))
    make = new_id or fresh.__next__
    ids = [task_id or make() for task_id in stored_for]
    return [
        TaskRow(
            id=ids[task.index],
            position=task.index,
            parent_id=ids[task.parent] if task.parent is not None else None,
            phase_position=task.phase,
            section_position=task.section,
            line=task.line,
            end_line=task.end_line,
            status=task.status,
            char=task.char,
            text=task.text,
            title=task.title,
            label=task.label,
            explicit_id=task.explicit_id,
            depth=task.depth,
            fields={key: value for key, value in task.fields.to_dict().items() if value},
        )
        for task in plan.tasks
    ]


def content_changed(row: TaskRow, stored: StoredTask, phase_key: object) -> bool:
    """Whether a matched task changed in what people care about (not its line number)."""
    return (
        row.text != stored.text
        or row.status != stored.status
        or row.char != stored.char
        or row.parent_id != stored.parent_id
        or phase_key != stored.phase_key
    )


def base_model(plan: Plan, rows: Sequence[TaskRow]) -> dict[str, object]:
    """The compact parsed model kept as the plan's base for the three-way comparison."""
    return {
        "title": plan.title,
        "version": plan.version,
        "date": plan.date,
        "declared_progress": plan.declared_progress,
        "phases": [[phase.number, phase.title, phase.declared_progress] for phase in plan.phases],
        "tasks": [
            [
                row.id,
                row.status,
                row.char,
                row.text,
                row.parent_id,
                row.phase_position,
                row.line,
                row.title,
                row.explicit_id,
            ]
            for row in rows
        ],
    }
