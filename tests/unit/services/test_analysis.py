"""``PlanAnalyser``: the same analyses in worker processes as in this one."""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable
from sync_engine.services.analysis import PlanAnalyser
from sync_engine.validation.validator import PlanValidator

SAMPLES = Path(__file__).resolve().parents[3] / "sample_plans"


def make_validator(table: StatusTable) -> PlanValidator:
    return PlanValidator(table=table)


def sample_items() -> list[tuple[str, bytes]]:
    paths = sorted(SAMPLES.rglob("*.md"))
    assert len(paths) >= 5, "the sample plans are missing"
    return [(path.relative_to(SAMPLES).as_posix(), path.read_bytes()) for path in paths]


def test_workers_give_the_results_of_this_process_in_order() -> None:
    factory = functools.partial(make_validator, DEFAULT_STATUS_TABLE)
    items = sample_items() * 3
    local = PlanAnalyser(factory, DEFAULT_STATUS_TABLE, workers=0)
    with PlanAnalyser(factory, DEFAULT_STATUS_TABLE, workers=2, min_parallel=1) as parallel:
        expected = list(local.analyse_many(items))
        got = list(parallel.analyse_many(items))
        assert parallel._pool is not None  # the workers really ran
        again = list(parallel.analyse_many(items[:2]))  # the pool is reused
    assert [analysis.parsed.plan.path for analysis in got] == [path for path, _ in items]
    assert got == expected
    assert again == expected[:2]
    assert sum(len(analysis.parsed.plan.tasks) for analysis in got) > 100


def test_short_lists_stay_in_this_process() -> None:
    factory = functools.partial(make_validator, DEFAULT_STATUS_TABLE)
    with PlanAnalyser(factory, DEFAULT_STATUS_TABLE, workers=2, min_parallel=100) as analyser:
        results = list(analyser.analyse_many(sample_items()))
        assert analyser._pool is None
    assert all(analysis.validation.path == analysis.parsed.plan.path for analysis in results)


def test_a_parsed_plan_survives_pickling() -> None:
    table = StatusTable.from_mapping({"~": "blocked"})
    analyser = PlanAnalyser(functools.partial(make_validator, table), table, workers=0)
    analyses = [analyser.analyse(path, data) for path, data in sample_items()]
    assert pickle.loads(pickle.dumps(analyses)) == analyses
    assert pickle.loads(pickle.dumps(table)) == table
    tasks = [task for analysis in analyses for task in analysis.parsed.plan.tasks]
    assert any(task.fields.tags or task.fields.estimate for task in tasks)
    assert any(task.label and task.parent is not None for task in tasks)
