"""A named, ordered chain of rules that can be switched on and off and given parameters.

The shape follows markdown-it's ``Ruler``: rules are kept in order under unique names;
``before``/``after``/``at``/``push`` place them, ``enable``/``disable``/``enable_only`` switch
them, ``configure`` sets their parameters. The rule files in ``rules/*.yaml`` are applied
through :meth:`RuleSet.apply_config`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sync_engine.domain.findings import Finding, Severity
from sync_engine.domain.model import Plan
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable


class RuleConfigError(ValueError):
    """A rules file names a rule that does not exist or sets a parameter badly."""


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule sees: the plan, its source lines (with endings) and its parameters."""

    plan: Plan
    lines: tuple[str, ...]
    params: Mapping[str, Any]
    severity: Severity
    table: StatusTable = DEFAULT_STATUS_TABLE

    def finding(
        self, code: str, message: str, line: int | None = None, hint: str | None = None
    ) -> Finding:
        return Finding(code, self.severity, message, line=line, hint=hint, path=self.plan.path)


RuleCheck = Callable[[RuleContext], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    check: RuleCheck
    severity: Severity
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""


class RuleSet:
    """An ordered, configurable set of validation rules."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []

    def __iter__(self) -> Any:
        return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def _find(self, name: str) -> int:
        for position, rule in enumerate(self._rules):
            if rule.name == name:
                return position
        raise RuleConfigError(f"no rule named {name!r}; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [rule.name for rule in self._rules]

    def get(self, name: str) -> Rule:
        return self._rules[self._find(name)]

    def push(self, rule: Rule) -> None:
        if rule.name in self.names():
            raise RuleConfigError(f"a rule named {rule.name!r} exists already")
        self._rules.append(rule)

    def before(self, name: str, rule: Rule) -> None:
        self._rules.insert(self._find(name), rule)

    def after(self, name: str, rule: Rule) -> None:
        self._rules.insert(self._find(name) + 1, rule)

    def at(self, name: str, rule: Rule) -> None:
        self._rules[self._find(name)] = rule

    def enable(self, names: Iterable[str]) -> None:
        for name in names:
            position = self._find(name)
            self._rules[position] = replace(self._rules[position], enabled=True)

    def disable(self, names: Iterable[str]) -> None:
        for name in names:
            position = self._find(name)
            self._rules[position] = replace(self._rules[position], enabled=False)

    def enable_only(self, names: Iterable[str]) -> None:
        wanted = set(names)
        for name in wanted:
            self._find(name)
        self._rules = [replace(rule, enabled=rule.name in wanted) for rule in self._rules]

    def configure(
        self, name: str, params: Mapping[str, Any] | None = None, severity: str | None = None
    ) -> None:
        position = self._find(name)
        rule = self._rules[position]
        merged = dict(rule.params)
        for key, value in (params or {}).items():
            if key not in merged:
                raise RuleConfigError(
                    f"rule {name!r} has no parameter {key!r}; it has: {', '.join(merged) or '-'}"
                )
            merged[key] = value
        new_severity = rule.severity
        if severity is not None:
            try:
                new_severity = Severity(severity)
            except ValueError:
                raise RuleConfigError(
                    f"rule {name!r}: severity must be error, warning or info, not {severity!r}"
                ) from None
        self._rules[position] = replace(
            rule, params=MappingProxyType(merged), severity=new_severity
        )

    def active(self) -> list[Rule]:
        return [rule for rule in self._rules if rule.enabled]

    def apply_config(self, config: Mapping[str, Any]) -> None:
        """Apply one ``rules/*.yaml`` document: ``{"rules": {name: bool | {enabled,
        severity, <params>}}}``."""
        rules = config.get("rules", {})
        if not isinstance(rules, Mapping):
            raise RuleConfigError("'rules' must be a mapping of rule name to settings")
        for name, settings in rules.items():
            if isinstance(settings, bool):
                (self.enable if settings else self.disable)([name])
                continue
            if not isinstance(settings, Mapping):
                raise RuleConfigError(f"rule {name!r}: settings must be a mapping or a boolean")
            options = dict(settings)
            enabled = options.pop("enabled", None)
            severity = options.pop("severity", None)
            options.pop("description", None)
            self.configure(name, options, severity)
            if enabled is not None:
                (self.enable if enabled else self.disable)([name])

    def run(self, context_for: Callable[[Rule], RuleContext]) -> list[Finding]:
        findings: list[Finding] = []
        for rule in self.active():
            findings.extend(rule.check(context_for(rule)))
        return findings
