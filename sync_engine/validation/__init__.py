"""Plan validation: the JSON Schema of the model and a configurable rule set."""

from __future__ import annotations

from sync_engine.validation.ruler import Rule, RuleConfigError, RuleContext, RuleSet
from sync_engine.validation.rules import builtin_rules
from sync_engine.validation.validator import PlanValidator, ValidationReport, score

__all__ = [
    "PlanValidator",
    "Rule",
    "RuleConfigError",
    "RuleContext",
    "RuleSet",
    "ValidationReport",
    "builtin_rules",
    "score",
]
