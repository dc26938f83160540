"""The plan model as plain JSON-ready data (the shape of ``schemas/plan.schema.json``)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sync_engine.domain.model import Phase, Plan, Section, Task
from sync_engine.domain.progress import Progress, compute_progress
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable


def jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _progress(progress: Progress) -> dict[str, Any]:
    return {"done": progress.done, "total": progress.total, "percent": progress.percent}


def task_to_dict(task: Task) -> dict[str, Any]:
    return {
        "index": task.index,
        "line": task.line,
        "end_line": task.end_line,
        "status": task.status,
        "char": task.char,
        "text": task.text,
        "title": task.title,
        "label": task.label,
        "explicit_id": task.explicit_id,
        "fields": task.fields.to_dict(),
        "depth": task.depth,
        "parent": task.parent,
        "phase": task.phase,
        "section": task.section,
        "bulleted": task.bulleted,
    }


def phase_to_dict(phase: Phase, progress: Progress | None) -> dict[str, Any]:
    return {
        "index": phase.index,
        "number": phase.number,
        "title": phase.title,
        "heading": phase.heading,
        "level": phase.level,
        "line": phase.line,
        "end_line": phase.end_line,
        "declared_progress": phase.declared_progress,
        "declared_progress_line": phase.declared_progress_line,
        "progress": _progress(progress or Progress(0, 0)),
    }


def section_to_dict(section: Section) -> dict[str, Any]:
    return {
        "index": section.index,
        "level": section.level,
        "title": section.title,
        "line": section.line,
        "end_line": section.end_line,
        "parent": section.parent,
        "phase": section.phase,
    }


def plan_to_dict(plan: Plan, table: StatusTable = DEFAULT_STATUS_TABLE) -> dict[str, Any]:
    """The whole parsed plan, with computed progress and the parser's findings."""
    overall, per_phase = compute_progress(plan, table)
    return {
        "path": plan.path,
        "title": plan.title,
        "title_line": plan.title_line,
        "version": plan.version,
        "date": plan.date,
        "declared_progress": plan.declared_progress,
        "declared_progress_line": plan.declared_progress_line,
        "progress": _progress(overall),
        "front_matter": jsonable(plan.front_matter),
        "metadata": dict(plan.metadata),
        "source": {
            "encoding": plan.source.encoding,
            "bom": plan.source.bom,
            "newline": {"\n": "lf", "\r\n": "crlf", "\r": "cr"}[plan.source.newline],
            "size": plan.source.size,
            "sha256": plan.source.sha256,
            "lines": plan.source.line_count,
        },
        "flags": {
            "undecodable": plan.flags.undecodable,
            "conflict_markers": plan.flags.conflict_markers,
            "skip_sync": plan.flags.skip_sync,
        },
        "phases": [phase_to_dict(phase, per_phase.get(phase.index)) for phase in plan.phases],
        "sections": [section_to_dict(section) for section in plan.sections],
        "tasks": [task_to_dict(task) for task in plan.tasks],
        "findings": [finding.to_dict() for finding in plan.findings],
    }
