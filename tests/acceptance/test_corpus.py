"""The real plans of ``../shared/corpus/`` (skipped, saying so, when the folder is absent):
every file parses and validates, the hand-counted files give their hand counts, and the
per-folder totals are printed as a regression guard."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from sync_engine.bootstrap import build_validator
from sync_engine.config import load_settings
from sync_engine.parsing import parse_plan
from tests.conftest import FIXTURES

pytestmark = pytest.mark.corpus

_HAND_COUNTS = yaml.safe_load(
    (FIXTURES / "parsing" / "hand_counts.yaml").read_text(encoding="utf-8")
)
# Totals per corpus folder as of the last reviewed change to the parser. A change to these
# numbers is a change in what users see as tasks: review it, then update them.
_FOLDER_TOTALS = {
    "backlog-md": 4248,
    "obsidian-tasks": 960,
    "openspec": 2643,
    "roo-plans": 18017,
    "speckit-aikit": 544,
}


@pytest.mark.parametrize(
    "case", _HAND_COUNTS, ids=[c["path"].rsplit("/", 1)[-1] for c in _HAND_COUNTS]
)
def test_hand_counted_files(corpus: Path, case: dict[str, Any]) -> None:
    plan = parse_plan((corpus / "roo-plans" / case["path"]).read_bytes(), case["path"]).plan
    done = sum(1 for task in plan.tasks if task.status == "done")
    assert (len(plan.tasks), done) == (case["tasks"], case["done"]), case["notes"][:200]


def test_every_file_parses_and_validates(corpus: Path) -> None:
    validator = build_validator(load_settings(corpus))
    totals: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for path in sorted(corpus.rglob("*.md")):
        relative = path.relative_to(corpus)
        parsed = parse_plan(path.read_bytes(), str(relative))
        report = validator.validate(parsed)
        assert all(f.code != "schema" for f in report.findings), (relative, report.findings)
        assert 0 <= report.score <= 100
        totals[relative.parts[0]] += len(parsed.plan.tasks)
        files[relative.parts[0]] += 1
    print()
    for folder in sorted(totals):
        print(f"corpus {folder:<16} {files[folder]:>5} files {totals[folder]:>6} tasks")
    assert {folder: totals[folder] for folder in _FOLDER_TOTALS} == _FOLDER_TOTALS


def test_v55_reads_all_232_tasks_with_its_phases(corpus: Path) -> None:
    path = (
        corpus
        / "roo-plans/projet/roadmaps/plans/consolidated/plan-dev-v55-planning-ecosystem-sync.md"
    )
    plan = parse_plan(path.read_bytes()).plan
    assert len(plan.tasks) == 232
    assert (plan.version, plan.date, plan.declared_progress) == ("2.6", "2025-06-13", 100.0)
    assert [phase.number for phase in plan.phases][:4] == [1, 2, 3, 4]
    assert sum(1 for f in plan.findings if f.code == "fence-closed-with-info") > 20
