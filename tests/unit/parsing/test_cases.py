"""Parser fixtures: each ``tests/fixtures/parsing/cases/NAME.md`` is parsed and compared with
the fields named in ``NAME.expected.yaml`` (only the fields named there are checked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sync_engine.domain import Plan, Task
from sync_engine.parsing import parse_plan
from tests.conftest import FIXTURES

CASES = sorted((FIXTURES / "parsing" / "cases").glob("*.md"))


def _task_value(plan: Plan, task: Task, key: str) -> Any:
    if key == "phase":
        return plan.phases[task.phase].number if task.phase is not None else None
    if key == "section_title":
        return plan.sections[task.section].title if task.section is not None else None
    if key == "fields":
        return task.fields.to_dict()
    return getattr(task, key)


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_case(case: Path) -> None:
    expected = yaml.safe_load(case.with_suffix(".expected.yaml").read_text(encoding="utf-8"))
    plan = parse_plan(case.read_bytes(), case.name).plan
    assert len(plan.tasks) == expected["task_count"], [t.text for t in plan.tasks]
    for want in expected.get("tasks", []):
        task = plan.task_at_line(want["line"])
        assert task is not None, f"no task on line {want['line']}"
        for key, value in want.items():
            actual = _task_value(plan, task, key)
            if key == "fields":
                for field_name, field_value in value.items():
                    assert actual[field_name] == field_value, (want["line"], field_name)
            else:
                assert actual == value, (want["line"], key, actual)
    if "phases" in expected:
        assert len(plan.phases) == len(expected["phases"])
        for phase, want in zip(plan.phases, expected["phases"], strict=True):
            for key, value in want.items():
                assert getattr(phase, key) == value, (phase.heading, key)
    if "finding_codes" in expected:
        assert [f.code for f in plan.findings] == expected["finding_codes"]
    for key, value in expected.get("plan", {}).items():
        assert getattr(plan, key) == value, key
