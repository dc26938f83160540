"""Schema validation and the rule set, run over one parsed plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from sync_engine.domain.findings import Finding, Severity
from sync_engine.domain.serialization import plan_to_dict
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable
from sync_engine.parsing.parser import ParseResult
from sync_engine.validation.ruler import Rule, RuleContext, RuleSet
from sync_engine.validation.rules import builtin_rules

ERROR_COST = 20
WARNING_COST = 5


def score(findings: list[Finding]) -> int:
    """100 minus 20 per error and 5 per warning, floored at 0."""
    errors = sum(1 for finding in findings if finding.severity is Severity.ERROR)
    warnings = sum(1 for finding in findings if finding.severity is Severity.WARNING)
    return max(0, 100 - ERROR_COST * errors - WARNING_COST * warnings)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    path: str
    tasks: int
    findings: tuple[Finding, ...]

    @property
    def score(self) -> int:
        return score(list(self.findings))

    @property
    def has_errors(self) -> bool:
        return any(finding.severity is Severity.ERROR for finding in self.findings)


class PlanValidator:
    """Validates parsed plans against the plan schema and a rule set.

    Args:
        schema: the JSON Schema of the parsed model (``schemas/plan.schema.json``), or
            ``None`` to skip schema validation.
        rules: the rule set; the built-in rules with their defaults when omitted.
    """

    def __init__(
        self,
        schema: Mapping[str, Any] | None = None,
        rules: RuleSet | None = None,
        table: StatusTable = DEFAULT_STATUS_TABLE,
    ) -> None:
        self._schema = jsonschema_rs.validator_for(dict(schema)) if schema is not None else None
        self.rules = rules if rules is not None else builtin_rules()
        self._table = table

    def validate(self, parsed: ParseResult) -> ValidationReport:
        plan = parsed.plan

        def context_for(rule: Rule) -> RuleContext:
            return RuleContext(plan, parsed.lines, rule.params, rule.severity, self._table)

        findings = self.rules.run(context_for)
        if self._schema is not None:
            for error in self._schema.iter_errors(plan_to_dict(plan, self._table)):
                where = "/".join(str(part) for part in error.instance_path) or "plan"
                findings.append(
                    Finding(
                        "schema",
                        Severity.ERROR,
                        f"parsed model does not match plan.schema.json at {where}: {error.message}",
                        path=plan.path,
                    )
                )
        findings.sort(key=lambda f: (f.line or 0, f.code))
        return ValidationReport(plan.path, len(plan.tasks), tuple(findings))
