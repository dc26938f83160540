"""Plan → phases → sections → tasks, as read from one Markdown file.

Every element carries its 1-based source line span so that edits can be written back to
exactly the lines concerned. Elements refer to each other by index into the plan's tuples
(``Task.parent``, ``Task.phase``, ``Section.parent``) so the model stays a tree of plain,
frozen values.
"""

from __future__ import annotations

import copyreg
import dataclasses
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sync_engine.domain.findings import Finding, Severity


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class InlineFields:
    """Fields written inside a task's text (Obsidian Tasks emoji, Dataview ``[key:: value]``,
    estimates such as ``(2h)``)."""

    priority: str | None = None
    due: str | None = None
    scheduled: str | None = None
    start: str | None = None
    done_on: str | None = None
    created: str | None = None
    estimate: str | None = None
    tags: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "priority": self.priority,
            "due": self.due,
            "scheduled": self.scheduled,
            "start": self.start,
            "done_on": self.done_on,
            "created": self.created,
            "estimate": self.estimate,
            "tags": list(self.tags),
            "depends_on": list(self.depends_on),
        }


@dataclass(frozen=True, slots=True)
class Task:
    """One checkbox item.

    ``text`` is everything after the checkbox on the item's first line, as written (trailing
    whitespace aside); ``title`` is that text without its number label, explicit ID and
    inline fields, and is what identity matching compares. ``line``..``end_line`` spans the
    item with its sub-items.
    """

    index: int
    line: int
    end_line: int
    char: str
    status: str
    text: str
    title: str
    label: str | None = None
    explicit_id: str | None = None
    fields: InlineFields = field(default_factory=InlineFields)
    depth: int = 0
    indent: int = 0
    parent: int | None = None
    phase: int | None = None
    section: int | None = None
    bulleted: bool = True


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase heading (``## Phase 2 : Nom``, ``## 2. Nom``, …) and the lines it governs."""

    index: int
    number: int | None
    title: str
    heading: str
    level: int
    line: int
    end_line: int
    declared_progress: float | None = None
    declared_progress_line: int | None = None


@dataclass(frozen=True, slots=True)
class Section:
    """Any other heading; ``parent`` is the enclosing section of a lower level."""

    index: int
    level: int
    title: str
    line: int
    end_line: int
    parent: int | None = None
    phase: int | None = None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """How the file's bytes were decoded, so that write-back can reproduce them exactly."""

    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"
    size: int = 0
    sha256: str = ""
    line_count: int = 0


@dataclass(frozen=True, slots=True)
class PlanFlags:
    """Conditions under which the sync must leave a plan alone in both directions."""

    undecodable: bool = False
    conflict_markers: bool = False

    @property
    def skip_sync(self) -> bool:
        return self.undecodable or self.conflict_markers

    def reasons(self) -> list[str]:
        reasons = []
        if self.undecodable:
            reasons.append("bytes that cannot be decoded exactly")
        if self.conflict_markers:
            reasons.append("git merge-conflict markers")
        return reasons


@dataclass(frozen=True, slots=True)
class Plan:
    """A parsed plan file. ``findings`` are the parser's own (fences, encodings, markers)."""

    path: str
    title: str | None = None
    title_line: int | None = None
    version: str | None = None
    date: str | None = None
    declared_progress: float | None = None
    declared_progress_line: int | None = None
    meta_line: int | None = None
    # The lines the version and the date were read from (a date from the front matter: None).
    version_line: int | None = None
    date_line: int | None = None
    front_matter: Mapping[str, Any] = field(default_factory=_empty_mapping)
    metadata: Mapping[str, str] = field(default_factory=_empty_mapping)
    phases: tuple[Phase, ...] = ()
    sections: tuple[Section, ...] = ()
    tasks: tuple[Task, ...] = ()
    source: SourceInfo = field(default_factory=SourceInfo)
    findings: tuple[Finding, ...] = ()
    flags: PlanFlags = field(default_factory=PlanFlags)

    def children_of(self, task_index: int | None) -> list[Task]:
        """Direct sub-tasks of a task (``None``: the top-level tasks)."""
        return [task for task in self.tasks if task.parent == task_index]

    def tasks_in_phase(self, phase_index: int | None) -> list[Task]:
        return [task for task in self.tasks if task.phase == phase_index]

    def task_at_line(self, line: int) -> Task | None:
        for task in self.tasks:
            if task.line == line:
                return task
        return None

    @property
    def done_style(self) -> str:
        """``X`` when the plan writes done tasks as ``[X]`` more often than ``[x]``."""
        upper = sum(1 for task in self.tasks if task.char == "X")
        lower = sum(1 for task in self.tasks if task.char == "x")
        return "X" if upper > lower else "x"

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)


# -- pickling -----------------------------------------------------------------------------------
# Parses cross to and from worker processes and are kept on disk (the parse cache) pickled.


def _mapping_proxy(data: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(data)


# The model keeps read-only mappings; they are pickled as plain dicts.
copyreg.pickle(MappingProxyType, lambda proxy: (_mapping_proxy, (dict(proxy),)))


def _pickle_by_fields(cls: type[Any]) -> None:
    """Pickle a frozen dataclass as its constructor and field values: a third of the time of
    the default (state dict, then a set per field on load) for the thousands of tasks a cold
    sync sends back from workers."""
    values = operator.attrgetter(*(item.name for item in dataclasses.fields(cls)))
    copyreg.pickle(cls, lambda instance: (cls, values(instance)))


for _model_class in (Task, InlineFields, Phase, Section, SourceInfo, PlanFlags):
    _pickle_by_fields(_model_class)
