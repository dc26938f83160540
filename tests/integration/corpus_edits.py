"""Random database-side edits of real plans, and the file bytes each edit must produce.

The expected bytes are worked out here from the file as it was and the edits alone, line by
line, the way DESIGN.md says write-back behaves: a status change rewrites the checkbox
character, a text change the text after the checkbox (indent, bullet, checkbox, gap and
trailing spaces kept), a deletion removes the task's lines, an addition inserts one line
after its anchor in the anchor's style; every other byte (BOM, each line's own ending, a
missing final newline) stays.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_BOM = b"\xef\xbb\xbf"
_BREAK = re.compile(r"\r\n|\r|\n")
# A task line: what comes before the checkbox character, the character, the gap, the text
# and the trailing spaces.
TASK_LINE = re.compile(
    r"^(?P<head>[ \t]*(?:>[ \t]?)*[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+)?\[)(?P<char>[^\]\[])"
    r"\](?P<gap>[ \t]*)(?P<text>.*?)(?P<trail>[ \t]*)$"
)
_ORDINAL = re.compile(r"^(?P<indent>[ \t]*(?:>[ \t]?)*[ \t]*)(?P<number>\d+)(?P<rest>[.)][ \t]+)$")
_LABEL = re.compile(
    r"^(?:(?:\*\*|__)\d+(?:\.\d+)*\.?(?:\*\*|__)|\d+(?:\.\d+)+\.?|\d+\.|[A-Z]{1,3}-?\d{2,4})"
    r"(?=\s|$)\s*"
)
# An explicit ID as written in a task's text (DESIGN.md, "Identity").
ID_MARKER = re.compile(
    r"🆔\s*[\w.-]+|<!--\s*id\s*:\s*[\w.-]+\s*-->|\{#[\w.-]+\}|\[id::[^\]]*\]"
    r"|(?:^|(?<=\s))\^[A-Za-z0-9-]+\s*$",
    re.IGNORECASE,
)
_EMOJI = re.compile(r"[\u2600-\u27bf\U0001f000-\U0001faff]")

STATUS_CHARS = {
    "todo": " ",
    "in_progress": "/",
    "cancelled": "-",
    "deferred": ">",
    "important": "!",
    "question": "?",
}
STATUSES = ("todo", "done", *sorted(set(STATUS_CHARS) - {"todo"}))
# Raw checkbox characters another program may write as a status (docs/database.md): unknown
# ones stay as they are, one of a named state stands for that state.
RAW_STATUSES = ("~", "b", "X", "/")


@dataclass(frozen=True, slots=True)
class Task:
    """A live task row, as the database holds it."""

    id: str
    plan: str
    plan_id: str
    line: int
    end_line: int
    status: str
    char: str
    text: str
    label: str | None
    explicit_id: str | None
    depth: int
    parent_id: str | None
    phase_id: str | None
    phase_number: int | None
    # How many phases of the plan have this number (``tasks add --phase N`` names one).
    phase_namesakes: int
    plan_has_phases: bool

    @property
    def snapshot(self) -> tuple[str, int, str, str, str]:
        return (self.id, self.line, self.status, self.char, self.text)


TASKS_QUERY = """
SELECT t.id::text, p.path, p.id::text, t.line, t.end_line, t.status, t.char, t.text, t.label,
       t.explicit_id, t.depth, t.parent_id::text, t.phase_id::text, ph.number,
       (SELECT count(*) FROM phases AS q WHERE q.plan_id = p.id AND q.number = ph.number),
       EXISTS (SELECT 1 FROM phases AS q WHERE q.plan_id = p.id)
FROM tasks AS t JOIN plans AS p ON p.id = t.plan_id
LEFT JOIN phases AS ph ON ph.id = t.phase_id
WHERE p.deleted_at IS NULL AND t.deleted_at IS NULL AND p.skipped_reason IS NULL
ORDER BY p.path, t.position
"""


@dataclass(slots=True)
class Source:
    """A plan file as lines of (body, ending), with its BOM."""

    bom: bytes
    lines: list[tuple[str, str]]

    @classmethod
    def parse(cls, data: bytes) -> Source:
        bom = _BOM if data.startswith(_BOM) else b""
        text = data[len(bom) :].decode("utf-8")
        lines, start = [], 0
        for match in _BREAK.finditer(text):
            lines.append((text[start : match.start()], match.group()))
            start = match.end()
        if start < len(text):
            lines.append((text[start:], ""))
        return cls(bom, lines)

    @property
    def newline(self) -> str:
        """The most common line ending (``\\n`` on a tie or when there is none)."""
        counts = Counter(ending for _, ending in self.lines if ending)
        best = max(("\n", "\r\n", "\r"), key=lambda ending: counts[ending])
        return best if counts[best] else "\n"

    def body(self, line: int) -> str:
        return self.lines[line - 1][0]


@dataclass(slots=True)
class Change:
    """One edit made in the database: ``status``/``text`` of ``task``, its deletion, or a
    new task (``added_id``) right after it."""

    kind: str  # "status", "text", "both", "delete", "add" (after task), "append" (after
    # task, the last of its phase: the new task is added at the end of that phase)
    via: str  # "cli" or "sql"
    task: Task
    status: str | None = None
    text: str | None = None
    added_id: str | None = None
    features: tuple[str, ...] = ()

    @property
    def written_text(self) -> str | None:
        """The text the file and the database end with: a new text naming no explicit ID
        keeps the one the task had."""
        if self.text is None or self.kind in ("add", "append") or ID_MARKER.search(self.text):
            return self.text
        marker = ID_MARKER.search(self.task.text)
        return self.text if marker is None else f"{self.text} {marker.group().strip()}"

    def describe(self) -> str:
        what = {"status": self.status, "text": self.text}
        values = ", ".join(f"{k}={v!r}" for k, v in what.items() if v is not None)
        return (
            f"{self.kind} via {self.via} of {self.task.plan}:{self.task.line} "
            f"({self.task.id}, {self.task.char!r} {self.task.text!r}) {values}"
        )


def features(task: Task, source: Source, children: set[str]) -> list[str]:
    """The odd things about a task that the edits should cover."""
    body, ending = source.lines[task.line - 1]
    match = TASK_LINE.match(body)
    assert match is not None, (task.plan, task.line, body)
    found = []
    if task.depth > 0:
        found.append("nested")
    if task.id in children:
        found.append("parent")
    if _EMOJI.search(task.text):
        found.append("emoji")
    if task.explicit_id:
        found.append("explicit-id")
    if match["trail"]:
        found.append("trailing-spaces")
    if ending == "\r\n":
        found.append("crlf")
    if source.bom:
        found.append("bom")
    if task.label and task.label[0].isdigit() and "." in task.label:
        found.append("numbered-label")
    if task.char not in " xX":
        found.append("unusual-state")
    if ">" in match["head"]:
        found.append("blockquote")
    if re.search(r"\d[.)]", match["head"]):
        found.append("ordered-list")
    if "\t" in match["head"]:
        found.append("tab-indent")
    if not re.search(r"(?:[-*+]|\d[.)])[ \t]+\[$", match["head"]):
        found.append("bare-checkbox")
    if not ending:
        found.append("no-final-newline")
    return found


class EditChooser:
    """Picks edits at random (one seeded generator), covering every odd kind of task first,
    then spreading the rest over many files; never two edits on one task, nothing inside
    a deleted task, never enough deletions to trip the mass-deletion guard."""

    def __init__(
        self, rng: random.Random, per_plan: int = 4, per_feature: int = 12, appends: int = 12
    ) -> None:
        self._rng = rng
        self._per_plan = per_plan
        self._per_feature = per_feature
        self._appends = appends
        self._serial = 0
        self.features_of: dict[str, tuple[str, ...]] = {}
        self.features_found: set[str] = set()

    def choose(
        self,
        tasks: Sequence[Task],
        sources: dict[str, Source],
        count: int,
        preferred_plans: Iterable[str] = (),
    ) -> list[Change]:
        by_plan: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            by_plan[task.plan].append(task)
        children = {task.parent_id for task in tasks if task.parent_id}
        by_feature: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            found = features(task, sources[task.plan], children)
            self.features_of[task.id] = tuple(found)
            for name in found:
                by_feature[name].append(task)
        self.features_found = set(by_feature)
        state = _Choice(by_plan, self._per_plan)
        for name in sorted(by_feature):
            pool = list(by_feature[name])
            self._rng.shuffle(pool)
            taken = 0
            for task in pool:
                if taken == self._per_feature:
                    break
                taken += self._try(state, task)
        self._append(state, tasks)
        pool = list(tasks)
        self._rng.shuffle(pool)
        # Half of the rest in plans edited before (their base was made by a write-back).
        preferred = set(preferred_plans)
        target = len(state.changes) + (count - len(state.changes)) // 2
        for task in (t for t in pool if t.plan in preferred):
            if len(state.changes) >= target:
                break
            self._try(state, task)
        for task in (t for t in pool if t.plan not in preferred):
            if len(state.changes) >= count:
                break
            self._try(state, task)
        return state.changes

    def _append(self, state: _Choice, tasks: Sequence[Task]) -> None:
        """New tasks at the end of a phase (or of a plan without phases): after the last
        task of the phase in document order."""
        last: dict[tuple[str, str | None], Task] = {}
        for task in tasks:  # in document order
            if task.phase_id is not None or not task.plan_has_phases:
                last[(task.plan, task.phase_id)] = task
        groups = sorted(last.values(), key=lambda task: task.id)
        self._rng.shuffle(groups)
        appended = 0
        for anchor in groups:
            if appended == self._appends:
                break
            via = self._rng.choice(("cli", "sql"))
            if via == "cli" and anchor.phase_namesakes > 1:
                continue  # the command names a phase by its number
            if anchor.parent_id is not None:
                # A task appended to a phase is a top-level one: it ends the phase after the
                # last task's block, in the phase's top-level style, not in this sub-task's.
                continue
            if state.allows(anchor, "append"):
                text = self._new_task_text()
                state.take(Change("append", via, anchor, text=text, features=("phase-end",)))
                appended += 1

    def _try(self, state: _Choice, task: Task) -> int:
        kind = self._rng.choices(
            ("status", "text", "both", "delete", "add"), weights=(44, 34, 6, 8, 8)
        )[0]
        via = self._rng.choice(("cli", "sql"))
        if not state.allows(task, kind):
            if kind in ("delete", "add") and state.allows(task, "status"):
                kind = "status"
            else:
                return 0
        change = Change(kind, via, task, features=self.features_of[task.id])
        if kind in ("status", "both"):
            change.status = self._status(task, via)
        if kind in ("text", "both"):
            change.text = self._text(task)
        if kind == "add":
            change.text = self._new_task_text()
        state.take(change)
        return 1

    def _status(self, task: Task, via: str) -> str:
        choices = [s for s in STATUSES if s != task.status]
        if via == "sql" and self._rng.random() < 0.1:
            choices = [c for c in RAW_STATUSES if status_name(c) != task.status]
        return self._rng.choice(choices)

    def _text(self, task: Task) -> str:
        self._serial += 1
        words = f"révisé n°{self._serial} 🚀"
        label = _LABEL.match(task.text)
        if task.explicit_id and self._rng.random() < 0.5:
            # A text of its own: the file keeps the task's explicit ID after it.
            return f"Réécrite n°{self._serial} sans son identifiant"
        if task.explicit_id or label or self._rng.random() < 0.3:
            # Keep what identifies or numbers the task; change what it says.
            cut = label.end() if label else 0
            return task.text[:cut] + words + " " + task.text[cut:]
        if self._rng.random() < 0.5:
            return task.text + f" — {words}"
        return f"Réécrite n°{self._serial} : vérifier l’export « données » 🔧"

    def _new_task_text(self) -> str:
        self._serial += 1
        return f"Ajoutée n°{self._serial} : relire la synthèse ✨"


@dataclass(slots=True)
class _Choice:
    by_plan: dict[str, list[Task]]
    per_plan: int
    changes: list[Change] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    busy_lines: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    deleted_lines: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    deletions: Counter[str] = field(default_factory=Counter)
    per_file: Counter[str] = field(default_factory=Counter)

    def allows(self, task: Task, kind: str) -> bool:
        if task.id in self.used or self.per_file[task.plan] >= self.per_plan:
            return False
        span = set(range(task.line, task.end_line + 1))
        if span & self.deleted_lines[task.plan] or task.line in self.busy_lines[task.plan]:
            return False
        if kind == "delete":
            inside = sum(1 for t in self.by_plan[task.plan] if t.line in span)
            total = len(self.by_plan[task.plan])
            removed = self.deletions[task.plan] + inside
            return not (span & self.busy_lines[task.plan]) and (removed < 3 or removed * 3 < total)
        if kind == "add":
            # A leaf task on one line: the new line goes right below it.
            return task.line == task.end_line
        return True

    def take(self, change: Change) -> None:
        task = change.task
        self.used.add(task.id)
        self.per_file[task.plan] += 1
        self.busy_lines[task.plan].add(task.line)
        if change.kind == "delete":
            span = set(range(task.line, task.end_line + 1))
            self.deleted_lines[task.plan] |= span
            self.deletions[task.plan] += sum(1 for t in self.by_plan[task.plan] if t.line in span)
        self.changes.append(change)


def done_style(tasks: Iterable[Task]) -> str:
    chars = Counter(task.char for task in tasks)
    return "X" if chars["X"] > chars["x"] else "x"


def status_name(status: str) -> str:
    """The status the database ends with once the file is written (a raw character of a
    named state becomes its name)."""
    names = {char: name for name, char in STATUS_CHARS.items()} | {"x": "done", "X": "done"}
    return names.get(status, status)


def char_for(status: str, style: str) -> str:
    status = status_name(status)
    if status == "done":
        return style
    return STATUS_CHARS.get(status, status)


def _next_head(head: str) -> str:
    """The anchor's bullet for the line below it (an ordered list counts on)."""
    prefix = head[:-1]  # without the "["
    ordinal = _ORDINAL.match(prefix)
    if ordinal is not None:
        prefix = ordinal["indent"] + str(int(ordinal["number"]) + 1) + ordinal["rest"]
    return prefix + "["


def expected_bytes(
    source: Source, changes: Sequence[Change], style: str
) -> tuple[bytes, dict[str, int]]:
    """The file after ``changes``, and the line of each added task (by its id)."""
    lines = list(source.lines)
    deleted: set[int] = set()
    inserted: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for change in changes:
        task = change.task
        body, ending = lines[task.line - 1]
        match = TASK_LINE.match(body)
        assert match is not None, (task.plan, task.line, body)
        if change.kind == "delete":
            deleted |= set(range(task.line, task.end_line + 1))
        elif change.kind in ("add", "append"):
            assert change.text is not None
            head, gap = _next_head(match["head"]), match["gap"] or " "
            inserted[task.end_line].append((f"{head} ]{gap}{change.text}", change.added_id or ""))
        else:
            if change.status is not None:
                start, end = match.span("char")
                body = body[:start] + char_for(change.status, style) + body[end:]
            if change.written_text is not None:
                start, end = match.span("text")
                body = body[:start] + change.written_text + body[end:]
            lines[task.line - 1] = (body, ending)
    pieces: list[list[str]] = []
    added_lines: dict[str, int] = {}
    for number, (body, ending) in enumerate(lines, 1):
        if number not in deleted:
            pieces.append([body, ending])
        for new_body, added_id in inserted.get(number, []):
            pieces.append([new_body, source.newline])
            added_lines[added_id] = len(pieces)
    for piece in pieces[:-1]:
        piece[1] = piece[1] or source.newline
    if pieces and source.lines and not source.lines[-1][1]:
        pieces[-1][1] = ""
    return source.bom + "".join(b + e for b, e in pieces).encode("utf-8"), added_lines


def read_sources(root: Path, plans: Iterable[str]) -> dict[str, Source]:
    return {plan: Source.parse((root / plan).read_bytes()) for plan in plans}
