"""Each built-in rule finds what it names, on the line where it is, and the rule set can be
reordered, switched and configured."""

from __future__ import annotations

import pytest

from sync_engine.bootstrap import load_schema
from sync_engine.domain import Severity
from sync_engine.parsing import parse_plan
from sync_engine.validation import (
    PlanValidator,
    Rule,
    RuleConfigError,
    builtin_rules,
    score,
)


def _codes(text: str, validator: PlanValidator | None = None) -> list[tuple[str, int | None]]:
    validator = validator or PlanValidator(load_schema("plan.schema.json"))
    report = validator.validate(parse_plan(text.encode(), "plan.md"))
    return [(finding.code, finding.line) for finding in report.findings]


def test_a_clean_plan_has_no_findings_and_scores_100() -> None:
    text = "# P\n\n**Version 1.0 - 2025-06-13 - Progression: 50%**\n\n- [x] a\n- [ ] b\n"
    report = PlanValidator(load_schema("plan.schema.json")).validate(parse_plan(text.encode()))
    assert report.findings == ()
    assert report.score == 100


def test_declared_progress_against_checkboxes_with_tolerance() -> None:
    text = "# P\n\n*Progression: 80%*\n\n## Phase 1: A\n\n*Progression: 0%*\n\n- [x] a\n- [ ] b\n"
    codes = _codes(text)
    assert ("progress-mismatch", 3) in codes
    assert ("progress-mismatch", 7) in codes
    rules = builtin_rules()
    rules.configure("progress-mismatch", {"tolerance": 60})
    assert ("progress-mismatch", 3) not in _codes(text, PlanValidator(rules=rules))


def test_progress_out_of_range_is_an_error() -> None:
    assert ("progress-out-of-range", 1) in _codes("*Progression: 140%*\n\n- [x] a\n")


def test_plan_figure_against_phase_rollup() -> None:
    text = (
        "# P\n\n*Progression: 90%*\n\n## Phase 1: A\n*Progression: 10%*\n\n- [ ] a\n\n"
        "## Phase 2: B\n*Progression: 10%*\n\n- [ ] b\n"
    )
    assert ("phase-rollup-mismatch", 3) in _codes(text)


def test_version_and_date_formats() -> None:
    codes = _codes("# P\n\n*Version 1.x - 13 juin 2025 - Progression: 0%*\n\n- [ ] a\n")
    assert ("date-format", 3) in codes
    assert ("date-placeholder", 3) in _codes(
        "# P\n\n*Version 1.0 - {{CURRENT_DATE}} - Progression: 0%*\n\n- [ ] a\n"
    )


def test_duplicate_ids_and_labels() -> None:
    text = "- [ ] **1.1** a 🆔 x\n- [ ] **1.1** b 🆔 x\n"
    codes = _codes(text)
    assert ("duplicate-task-id", 1) in codes
    assert ("duplicate-task-id", 2) in codes
    assert ("duplicate-label", 2) in codes


def test_dependency_cycles_and_open_prerequisites() -> None:
    text = (
        "- [ ] a 🆔 a ⛔ c\n- [ ] b 🆔 b ⛔ a\n- [ ] c 🆔 c ⛔ b\n"
        "- [x] d 🆔 d ⛔ e\n- [ ] e 🆔 e\n- [ ] f ⛔ nowhere\n"
    )
    codes = _codes(text)
    assert ("dependency-cycle", 1) in codes
    assert ("dependency-open", 4) in codes
    assert ("dependency-unknown", 6) in codes


def test_unchecked_task_that_says_done() -> None:
    codes = _codes("- [ ] ✅ Migration\n- [ ] Tests TERMINÉ\n- [x] ✅ fine\n- [ ] Finir\n")
    assert codes.count(("done-text-unchecked", 1)) == 1
    assert ("done-text-unchecked", 2) in codes
    assert all(line not in (3, 4) for code, line in codes if code == "done-text-unchecked")


def test_fence_and_marker_and_mojibake_findings_carry_lines() -> None:
    text = "- [ ] a\n```bash\nls\n```plaintext\n- [ ] caf\u00c3\u00a9\n"
    codes = _codes(text)
    assert ("fence-closed-with-info", 4) in codes
    assert ("mojibake", 5) in codes
    assert ("unclosed-fence", 2) in _codes("- [ ] a\n```bash\nls\n")
    assert ("conflict-markers", 2) in _codes("- [ ] a\n<<<<<<< HEAD\n=======\n>>>>>>> x\n")


def test_empty_plan() -> None:
    assert ("empty-plan", None) in _codes("")
    assert ("empty-plan", None) in _codes("# Only prose\n\nNo tasks here.\n")


def test_score_is_floored_at_zero() -> None:
    text = "".join("- [ ] t 🆔 same\n" for _ in range(10))
    report = PlanValidator().validate(parse_plan(text.encode()))
    assert report.has_errors
    assert report.score == 0
    assert score([]) == 100


def test_rule_set_is_ordered_switchable_and_configurable() -> None:
    rules = builtin_rules()
    assert rules.names()[0] == "undecodable"
    rules.disable(["mojibake"])
    assert "mojibake" not in [rule.name for rule in rules.active()]
    rules.enable_only(["empty-plan"])
    assert [rule.name for rule in rules.active()] == ["empty-plan"]
    custom = Rule("no-todo", lambda context: iter(()), Severity.INFO)
    rules.before("empty-plan", custom)
    assert rules.names().index("no-todo") == rules.names().index("empty-plan") - 1
    rules.apply_config(
        {"rules": {"mojibake": {"enabled": True, "max_reports": 3, "severity": "error"}}}
    )
    assert rules.get("mojibake").params["max_reports"] == 3
    assert rules.get("mojibake").severity is Severity.ERROR
    with pytest.raises(RuleConfigError, match="no rule named 'nope'"):
        rules.apply_config({"rules": {"nope": False}})
    with pytest.raises(RuleConfigError, match="has no parameter 'bogus'"):
        rules.configure("mojibake", {"bogus": 1})
    with pytest.raises(RuleConfigError, match="severity must be"):
        rules.configure("mojibake", severity="fatal")


def test_shipped_rules_file_names_every_builtin_rule() -> None:
    from sync_engine.config import load_settings

    documents = load_settings(".").load_rule_documents("validation")
    assert set(documents[0]["rules"]) == set(builtin_rules().names())
