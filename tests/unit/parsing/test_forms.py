"""Every version/progress-line and phase-heading form collected from real plans
(``tests/fixtures/parsing/meta_lines.yaml``, ``phase_headings.yaml``), read as a person would."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sync_engine.parsing.patterns import heading_progress, parse_meta_line, parse_phase_heading
from tests.conftest import FIXTURES

_META = yaml.safe_load((FIXTURES / "parsing" / "meta_lines.yaml").read_text(encoding="utf-8"))
_PHASES = yaml.safe_load((FIXTURES / "parsing" / "phase_headings.yaml").read_text(encoding="utf-8"))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@pytest.mark.parametrize("case", _META, ids=[case["line"][:60] for case in _META])
def test_meta_line(case: dict[str, Any]) -> None:
    if "unsupported" in case:
        pytest.xfail(case["unsupported"])
    if (
        case["line"].startswith("#") and case.get("meta") is not False
    ):  # a phase heading that carries its own percentage
        assert heading_progress(case["line"]) == _number(case["progress"])
        return
    meta = parse_meta_line(case["line"])
    if case.get("meta") is False:
        assert meta is None or (meta.version, meta.date, meta.progress) == (None, None, None)
        return
    assert meta is not None
    assert (meta.version, meta.date, meta.progress) == (
        case["version"],
        case["date"],
        _number(case["progress"]),
    )


@pytest.mark.parametrize("case", _PHASES, ids=[case["heading"][:60] for case in _PHASES])
def test_phase_heading(case: dict[str, Any]) -> None:
    text = case["heading"].lstrip("#").strip()
    phase = parse_phase_heading(text)
    if case.get("phase") is False:
        if "context" not in case:  # those are decided by the plan: see cases/phase_levels.md
            assert phase is None or not phase.explicit, case.get("why")
        return
    assert phase is not None
    assert (phase.number, phase.title or None) == (case["number"], case["title"])
