"""The built-in validation rules, in the order they run.

Each rule is a function of a :class:`RuleContext` yielding findings; its name is the code of
the findings it makes (some make a few related codes). Parameters have their defaults here
and are set in ``rules/validation.yaml``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from sync_engine.domain.findings import Finding, Severity
from sync_engine.domain.progress import Progress, compute_progress
from sync_engine.domain.status import DONE, TODO
from sync_engine.validation.ruler import Rule, RuleCheck, RuleContext, RuleSet

_VERSION = re.compile(r"^\d+(?:\.\d+){0,3}[a-z]?$")
_ISO_DATE = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?:[ T]\d{2}:\d{2}(:\d{2})?)?$"
)
_PLACEHOLDER = re.compile(r"\{\{?\s*[A-Z_]+\s*\}?\}")
_DONE_WORDS = re.compile(
    r"✅|☑|✔|\b(?:TERMIN[ÉE]E?S?|ACHEV[ÉE]E?S?|COMPLETED?|DONE|FINI(?:E|S)?)\b"
)
_MOJIBAKE = re.compile(r"Ã[\u0080-\u00bf©¨§¢ª«®´¹º»¼½¾]|â€[\u0080-\u00bf™œ¦¢“”˜]|Å“|Ã‰|Ã€")


def _parser_findings(code: str) -> RuleCheck:
    """A rule that re-issues the parser's own findings of one code, with the rule's
    severity, so that they can be switched off like any other rule."""

    def check(context: RuleContext) -> Iterator[Finding]:
        for finding in context.plan.findings:
            if finding.code == code:
                yield context.finding(code, finding.message, finding.line, finding.hint)

    return check


def _progress_mismatch(context: RuleContext) -> Iterator[Finding]:
    tolerance = float(context.params["tolerance"])
    plan = context.plan
    overall, per_phase = compute_progress(plan, context.table)
    if plan.declared_progress is not None and overall.percent is not None:
        gap = abs(plan.declared_progress - overall.percent)
        if gap > tolerance:
            yield context.finding(
                "progress-mismatch",
                f"plan declares {plan.declared_progress:g}% but {overall.done} of "
                f"{overall.total} tasks are done ({overall.percent:g}%)",
                plan.declared_progress_line,
                f"set the declared progress to {round(overall.percent):d}%",
            )
    for phase in plan.phases:
        progress = per_phase.get(phase.index)
        if phase.declared_progress is None or progress is None or progress.percent is None:
            continue
        if abs(phase.declared_progress - progress.percent) > tolerance:
            yield context.finding(
                "progress-mismatch",
                f"phase {phase.number} declares {phase.declared_progress:g}% but "
                f"{progress.done} of {progress.total} tasks are done ({progress.percent:g}%)",
                phase.declared_progress_line,
                f"set the phase's progress to {round(progress.percent):d}%",
            )


def _progress_range(context: RuleContext) -> Iterator[Finding]:
    plan = context.plan
    figures = [(plan.declared_progress, plan.declared_progress_line, "plan")]
    figures += [
        (phase.declared_progress, phase.declared_progress_line, f"phase {phase.number}")
        for phase in plan.phases
    ]
    for value, line, what in figures:
        if value is not None and not 0 <= value <= 100:
            yield context.finding(
                "progress-out-of-range",
                f"{what} declares {value:g}% progress, outside 0–100",
                line,
                "a progress figure is a percentage between 0 and 100",
            )


def _phase_rollup(context: RuleContext) -> Iterator[Finding]:
    plan = context.plan
    declared = [phase for phase in plan.phases if phase.declared_progress is not None]
    if plan.declared_progress is None or not declared or len(declared) < len(plan.phases):
        return
    _, per_phase = compute_progress(plan, context.table)
    weights = [max(per_phase.get(phase.index, Progress(0, 0)).total, 1) for phase in declared]
    rollup = sum(
        (phase.declared_progress or 0.0) * weight
        for phase, weight in zip(declared, weights, strict=True)
    ) / sum(weights)
    if abs(rollup - plan.declared_progress) > float(context.params["tolerance"]):
        yield context.finding(
            "phase-rollup-mismatch",
            f"plan declares {plan.declared_progress:g}% but its phases' declared figures "
            f"roll up to {rollup:.0f}% (weighted by task count)",
            plan.declared_progress_line,
            "bring the plan's figure in line with its phases",
        )


def _version_format(context: RuleContext) -> Iterator[Finding]:
    version = context.plan.version
    if version is not None and not _VERSION.match(version):
        yield context.finding(
            "version-format",
            f"version {version!r} is not of the form X.Y",
            context.plan.meta_line,
            "write versions as numbers separated by dots, e.g. 2.1",
        )


def _date_format(context: RuleContext) -> Iterator[Finding]:
    date = context.plan.date
    if date is None:
        return
    if _PLACEHOLDER.fullmatch(date.strip()):
        yield context.finding(
            "date-placeholder",
            f"date is an unfilled template placeholder {date!r}",
            context.plan.meta_line,
            "replace it with the date, e.g. 2025-06-13",
        )
    elif not _ISO_DATE.match(date) and context.params["require_iso"]:
        yield context.finding(
            "date-format",
            f"date {date!r} is not an ISO date (YYYY-MM-DD)",
            context.plan.meta_line,
            "write dates as YYYY-MM-DD so that tools can read them",
        )


def _duplicates(context: RuleContext) -> Iterator[Finding]:
    tasks = context.plan.tasks
    ids = Counter(task.explicit_id for task in tasks if task.explicit_id)
    for task in tasks:
        if task.explicit_id and ids[task.explicit_id] > 1:
            yield Finding(
                "duplicate-task-id",
                Severity.ERROR,
                f"task ID {task.explicit_id!r} is used {ids[task.explicit_id]} times",
                line=task.line,
                hint="give each task its own ID",
                path=context.plan.path,
            )
    labels: dict[str, list[int]] = defaultdict(list)
    for task in tasks:
        if task.label and "." in task.label:
            labels[task.label].append(task.line)
    for label, lines in labels.items():
        for line in lines[1:]:
            yield context.finding(
                "duplicate-label",
                f"task number {label} is used again (first on line {lines[0]})",
                line,
                "renumber the tasks",
            )


def _dependencies(context: RuleContext) -> Iterator[Finding]:
    tasks = context.plan.tasks
    by_id = {task.explicit_id: task for task in tasks if task.explicit_id}
    graph = {
        task.explicit_id: [dep for dep in task.fields.depends_on if dep in by_id]
        for task in tasks
        if task.explicit_id
    }
    for task in tasks:
        for dep in task.fields.depends_on:
            prerequisite = by_id.get(dep)
            if prerequisite is None:
                yield context.finding(
                    "dependency-unknown",
                    f"task depends on {dep!r}, which no task in this plan has as its ID",
                    task.line,
                    "check the ID after ⛔",
                )
            elif task.status == DONE and prerequisite.status not in (DONE, "cancelled"):
                yield context.finding(
                    "dependency-open",
                    f"task is done but its prerequisite {dep!r} (line {prerequisite.line}) "
                    "is still open",
                    task.line,
                    "finish the prerequisite or reopen this task",
                )
    for cycle in _cycles(graph):
        first = by_id[cycle[0]]
        yield Finding(
            "dependency-cycle",
            Severity.ERROR,
            "dependency cycle: " + " → ".join([*cycle, cycle[0]]),
            line=first.line,
            hint="remove one of the dependencies",
            path=context.plan.path,
        )


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each elementary cycle reported once (by its smallest member)."""
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                pivot = cycle.index(min(cycle))
                key = tuple(cycle[pivot:] + cycle[:pivot])
                if key not in seen:
                    seen.add(key)
                    found.append(list(key))
            elif state.get(nxt) is None:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return found


def _done_text(context: RuleContext) -> Iterator[Finding]:
    for task in context.plan.tasks:
        if task.status == TODO and _DONE_WORDS.search(task.text):
            yield context.finding(
                "done-text-unchecked",
                "task text says it is done but its box is unchecked",
                task.line,
                "tick the box ([x]) or remove the done marker from the text",
            )


def _mojibake(context: RuleContext) -> Iterator[Finding]:
    limit = int(context.params["max_reports"])
    reported = 0
    for number, line in enumerate(context.lines, start=1):
        if "\ufffd" in line:
            message = "replacement character U+FFFD: some text was lost in an earlier conversion"
        elif _MOJIBAKE.search(line):
            message = "text looks double-encoded (mojibake such as 'Ã©' for 'é')"
        else:
            continue
        yield context.finding(
            "mojibake", message, number, "retype the damaged characters or re-convert the file"
        )
        reported += 1
        if reported >= limit:
            return


def _empty_plan(context: RuleContext) -> Iterator[Finding]:
    plan = context.plan
    if plan.tasks:
        return
    blank = not "".join(context.lines).strip().lstrip("\ufeff")
    yield context.finding(
        "empty-plan",
        "the file is empty" if blank else "the plan has no tasks",
        None,
        "add tasks as '- [ ] text' lines",
    )


def _rule(
    name: str,
    check: RuleCheck,
    severity: Severity,
    description: str,
    **params: Any,
) -> Rule:
    return Rule(name, check, severity, True, MappingProxyType(params), description)


def builtin_rules() -> RuleSet:
    """A fresh rule set holding every built-in rule with its default settings."""
    rules = RuleSet()
    for rule in (
        _rule(
            "undecodable",
            _parser_findings("undecodable"),
            Severity.ERROR,
            "bytes that are not valid UTF-8 (the plan is not synced)",
        ),
        _rule(
            "conflict-markers",
            _parser_findings("conflict-markers"),
            Severity.ERROR,
            "left-over git merge-conflict markers (the plan is not synced)",
        ),
        _rule(
            "fence-closed-with-info",
            _parser_findings("fence-closed-with-info"),
            Severity.WARNING,
            "a code fence closed by a line with an info string",
        ),
        _rule(
            "unclosed-fence",
            _parser_findings("unclosed-fence"),
            Severity.WARNING,
            "a code fence never closed",
        ),
        _rule(
            "front-matter-invalid",
            _parser_findings("front-matter-invalid"),
            Severity.WARNING,
            "front matter that is not valid YAML",
        ),
        _rule(
            "progress-out-of-range",
            _progress_range,
            Severity.ERROR,
            "declared progress outside 0–100",
        ),
        _rule(
            "progress-mismatch",
            _progress_mismatch,
            Severity.WARNING,
            "declared progress differs from the checkboxes",
            tolerance=5.0,
        ),
        _rule(
            "phase-rollup-mismatch",
            _phase_rollup,
            Severity.WARNING,
            "plan progress differs from its phases' declared progress",
            tolerance=10.0,
        ),
        _rule("version-format", _version_format, Severity.WARNING, "version not like X.Y"),
        _rule(
            "date-format",
            _date_format,
            Severity.WARNING,
            "date not ISO, or an unfilled placeholder",
            require_iso=True,
        ),
        _rule(
            "duplicate-ids",
            _duplicates,
            Severity.WARNING,
            "duplicate explicit task IDs (error) and number labels (warning)",
        ),
        _rule(
            "dependencies",
            _dependencies,
            Severity.WARNING,
            "dependency cycles (error), unknown prerequisites, done before prerequisites",
        ),
        _rule(
            "done-text-unchecked",
            _done_text,
            Severity.WARNING,
            "an unchecked task whose text says it is done",
        ),
        _rule(
            "mojibake",
            _mojibake,
            Severity.WARNING,
            "double-encoded text or replacement characters",
            max_reports=20,
        ),
        _rule("empty-plan", _empty_plan, Severity.WARNING, "a plan with no tasks"),
    ):
        rules.push(rule)
    return rules
