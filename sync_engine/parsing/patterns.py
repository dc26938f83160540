"""The line-level forms real plans use: version/progress lines, phase headings, task text.

Each function takes one line's text and returns what it found, or ``None``; none raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sync_engine.domain.model import InlineFields

_SPACES = re.compile(r"[\u00a0\u202f\u2007\u2009\u200a\u3000]")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_(?=\W)|(?<=\W)_)")

_MONTHS = (
    "janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|"
    "novembre|décembre|decembre|january|february|march|april|may|june|july|august|"
    "september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?"
    r"|\d{1,2}/\d{1,2}/\d{4}"
    r"|\d{1,2}(?:er)?\s+(?:" + _MONTHS + r")\.?\s+\d{4}"
    r"|(?:" + _MONTHS + r")\s+\d{1,2},?\s+\d{4}"
    r"|\{\{?\s*[A-Z_]*DATE[A-Z_]*\s*\}?\})",
    re.IGNORECASE,
)
_VERSION = re.compile(
    r"\bversion\b\s*[:=]?\s*[\"']?v?(?P<version>\d+(?:\.\d+)*[a-z]?)(?![\w-])", re.IGNORECASE
)
_PROGRESS_WORD = (
    r"(?:progression|progress|avancement|completion|complétion|complétude|achèvement"
    r"|status|statut)"
)
_PROGRESS = re.compile(
    _PROGRESS_WORD + r"(?:\s+(?:globale?|totale?|overall|générale|global))?\s*[:=]?\s*[\"']?"
    r"(?:(?P<pct>\d{1,3}(?:[.,]\d+)?)\s*%(?:\s*(?:→|->|=>)\s*(?P<pct2>\d{1,3}(?:[.,]\d+)?)\s*%)?"
    r"|(?P<num>\d+)\s*/\s*(?P<den>\d+))",
    re.IGNORECASE,
)
_LEADING_VERSION = re.compile(r"^\W*version\b", re.IGNORECASE)
_LEADING_PROGRESS = re.compile(
    r"^\W*(?:(?:score\s+de|taux\s+d.)\s*)?(?:\w+\W+){0,2}?" + _PROGRESS_WORD + r"\b", re.IGNORECASE
)
_LEADING_DATE_LABEL = re.compile(
    r"^\W*(?:date(?:\s+de\s+cr\S*ation)?|(?:derni\S*re\s+)?mise\s+à\s+jour|created|updated"
    r"|last\s+updated|g\S*n\S*r\S*\s+le|generated(?:\s+on)?)\W*\s*:",
    re.IGNORECASE,
)
_FIELD_VERSION = re.compile(r"^version\s*:\s*[\"']", re.IGNORECASE)
_HEADING_PERCENT = re.compile(r"(?<![\d.,])(?P<pct>\d{1,3}(?:[.,]\d+)?)\s*%")
_LIST_OR_TASK = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|\[.\]\s)")


def plain_spaces(text: str) -> str:
    """Text with non-breaking and other exotic spaces made plain."""
    return _SPACES.sub(" ", text)


def plain(text: str) -> str:
    """Text with exotic spaces made plain and emphasis markers removed."""
    return _EMPHASIS.sub("", plain_spaces(text))


@dataclass(frozen=True, slots=True)
class MetaLine:
    """What a version/progress line declares."""

    version: str | None
    date: str | None
    progress: float | None


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def parse_meta_line(line: str) -> MetaLine | None:
    """Read a version/date/progress line such as ``**Version 2.6 - 2025-06-13 - Progression
    globale : 100%**``. Lines that are list items or tasks are never meta lines."""
    if _LIST_OR_TASK.match(line) or line.lstrip().startswith(("#", "|")):
        return None
    if _FIELD_VERSION.match(line):
        line = line.replace('"', " ").replace("'", " ")
    text = plain(line).strip().lstrip(">").strip()
    leads_version = _LEADING_VERSION.match(text) is not None
    leads_progress = _LEADING_PROGRESS.match(text) is not None
    leads_date = _LEADING_DATE_LABEL.match(text) is not None
    if not (leads_version or leads_progress or leads_date):
        return None
    version_match = _VERSION.search(text) if leads_version else None
    progress_match = _PROGRESS.search(text)
    date_match = _DATE.search(text)
    if leads_progress and progress_match is None:
        return None
    if version_match is None and progress_match is None and date_match is None:
        return None
    progress: float | None = None
    if progress_match is not None:
        if progress_match["pct2"]:
            progress = _number(progress_match["pct2"])
        elif progress_match["pct"]:
            progress = _number(progress_match["pct"])
        else:
            denominator = int(progress_match["den"])
            numerator = int(progress_match["num"])
            progress = round(100.0 * numerator / denominator, 1) if denominator else 0.0
    return MetaLine(
        version=version_match["version"] if version_match else None,
        date=date_match["date"] if date_match else None,
        progress=progress,
    )


def heading_progress(text: str) -> float | None:
    """A percentage written in a phase heading (``## 2. Nom (Phase 2) - 60% complété``)."""
    match = _HEADING_PERCENT.search(plain(text))
    if match is None:
        return None
    return _number(match["pct"])


# --- headings -------------------------------------------------------------------------

_ANCHOR = re.compile(r"\s*\{#[^}]*\}\s*$")
_HEADING_CHECKBOX = re.compile(r"^\s*\[.\]\s+")
_NOT_WORD_START = re.compile(r"^[^\w\[(]+")
_NOT_WORD_END = re.compile(r"[^\w)\]!?.»\"'`]+$")
_PHASE_WORD = re.compile(
    r"^(?:(?:\d+(?:\.\d+)*\.?)\s+)?phase\s+(?P<number>\d+)(?![.,]?\d|\s*(?:-|–|—|à|to|et|&)\s*\d)"
    r"\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_NUMBERED = re.compile(r"^(?P<number>\d+)(?:[.)]|\s+-|\s*:)?(?![.\d])\s+(?P<rest>\S.*)$")
_SEPARATORS = re.compile(r"^\s*(?:[:\-–—.)|/]\s*)+")


@dataclass(frozen=True, slots=True)
class PhaseHeading:
    number: int
    title: str
    explicit: bool  # says "Phase N" rather than only "N."


def clean_heading(text: str) -> str:
    """Heading text without anchor suffix, emphasis, leading checkbox and edge emoji."""
    text = _ANCHOR.sub("", plain(text)).strip()
    text = _HEADING_CHECKBOX.sub("", text)
    text = _NOT_WORD_START.sub("", text)
    return _NOT_WORD_END.sub("", text).strip()


_PHASE_SUFFIX = re.compile(r"\s*\(phase\s+(?P<number>\d+)\)", re.IGNORECASE)
_STATUS_TAIL = re.compile(
    r"(?:\s*(?:[-–—]\s*)?(?:✅|✔️?|🔄|⏳|\(?\s*(?:TERMIN[ÉE]E?S?|COMPL[ÉE]T[ÉE]E?S?|COMPLETED?|DONE|"
    r"ACHEV[ÉE]E?S?|EN\s+COURS|\d{1,3}\s*%\s*\w*)\s*\)?))+\s*$",
    re.IGNORECASE,
)


def _tidy_title(rest: str) -> str:
    rest = _PHASE_SUFFIX.sub("", rest)
    rest = _STATUS_TAIL.sub("", rest)
    rest = _SEPARATORS.sub("", rest).strip()
    rest = _NOT_WORD_START.sub("", rest) if rest and not rest[0].isalnum() else rest
    return _NOT_WORD_END.sub("", rest).strip()


def parse_phase_heading(text: str) -> PhaseHeading | None:
    """``Phase 3 : Nom``, ``🎯 PHASE 3 — Nom``, ``2.1 Phase 2 : Nom``, ``3. Nom``, …"""
    cleaned = clean_heading(text)
    match = _PHASE_WORD.match(cleaned)
    if match is not None:
        return PhaseHeading(int(match["number"]), _tidy_title(match["rest"]), explicit=True)
    match = _NUMBERED.match(cleaned)
    if match is not None:
        suffix = _PHASE_SUFFIX.search(match["rest"])
        if suffix is not None:  # "## 2. Nom (Phase 1)": the heading says which phase
            return PhaseHeading(int(suffix["number"]), _tidy_title(match["rest"]), explicit=True)
        return PhaseHeading(int(match["number"]), _tidy_title(match["rest"]), explicit=False)
    return None


# --- task text ---------------------------------------------------------------------------

_LABEL = re.compile(
    r"^(?:(?:\*\*|__)(?P<bold>\d+(?:\.\d+)*\.?)(?:\*\*|__)"
    r"|(?P<label>\d+(?:\.\d+)+\.?|\d+\.|[A-Z]{1,3}-?\d{2,4}))(?=\s|$)\s*"
)
_ID_PATTERNS = (
    re.compile(r"🆔\s*(?P<id>[\w.-]+)"),
    re.compile(r"<!--\s*id\s*:\s*(?P<id>[\w.-]+)\s*-->", re.IGNORECASE),
    re.compile(r"\{#(?P<id>[\w.-]+)\}"),
    re.compile(r"(?:^|\s)\^(?P<id>[A-Za-z0-9-]+)\s*$"),
)
_EMOJI_DATE = {
    "📅": "due",
    "🗓️": "due",
    "🗓": "due",
    "⏳": "scheduled",
    "🛫": "start",
    "✅": "done_on",
    "➕": "created",
}
_EMOJI_DATE_RE = re.compile(r"(?P<emoji>📅|🗓️?|⏳|🛫|✅|➕)\s*(?P<date>\d{4}-\d{2}-\d{2})")
_PRIORITIES = {"🔺": "highest", "⏫": "high", "🔼": "medium", "🔽": "low", "⏬": "lowest"}
_PRIORITY_RE = re.compile("(" + "|".join(_PRIORITIES) + ")\ufe0f?")
_DEPENDS_RE = re.compile(r"⛔\s*(?P<ids>[\w.-]+(?:\s*,\s*[\w.-]+)*)")
_DATAVIEW = re.compile(r"\[(?P<key>[\w-]+)::\s*(?P<value>[^\]]*)\]")
_ESTIMATE = re.compile(
    r"\((?P<estimate>~?\d+(?:[.,]\d+)?\s*(?:h|hr?s?|heures?|hours?|min|mn|m|j|jours?|d|days?|"
    r"w|sem(?:aines?)?|weeks?|pts?|points?)\.?)\)",
    re.IGNORECASE,
)
_TAG = re.compile(r"(?:^|(?<=\s))#(?P<tag>[^\s#\d,.;:!?()\[\]][^\s#,;:!?()\[\]]*)")
_SPACE_RUN = re.compile(r"\s{2,}")
_DATAVIEW_FIELDS = {
    "due": "due",
    "scheduled": "scheduled",
    "start": "start",
    "completion": "done_on",
    "created": "created",
    "priority": "priority",
    "estimate": "estimate",
}


_DATAVIEW_ID = re.compile(r"\[id::\s*[^\]]*\]", re.IGNORECASE)


def explicit_id_marker(text: str) -> str | None:
    """The explicit ID of a task's text as written (``🆔 x``, ``<!-- id: x -->``, ``{#x}``,
    ``^x``, ``[id:: x]``), or ``None``."""
    for pattern in (*_ID_PATTERNS, _DATAVIEW_ID):
        match = pattern.search(text)
        if match is not None:
            return match.group().strip()
    return None


@dataclass(frozen=True, slots=True)
class TaskText:
    title: str
    label: str | None
    explicit_id: str | None
    fields: InlineFields


def analyse_task_text(text: str) -> TaskText:
    """Split a task's text into its label, explicit ID, inline fields and bare title."""
    rest = text
    label = None
    label_match = _LABEL.match(rest)
    if label_match is not None:
        label = (label_match["bold"] or label_match["label"]).rstrip(".") or None
        rest = rest[label_match.end() :]
    explicit_id = None
    for pattern in _ID_PATTERNS:
        id_match = pattern.search(rest)
        if id_match is not None:
            explicit_id = explicit_id or id_match["id"]
            rest = rest[: id_match.start()] + " " + rest[id_match.end() :]
    values: dict[str, str] = {}
    for date_match in _EMOJI_DATE_RE.finditer(rest):
        values.setdefault(_EMOJI_DATE[date_match["emoji"]], date_match["date"])
    rest = _EMOJI_DATE_RE.sub(" ", rest)
    priority_match = _PRIORITY_RE.search(rest)
    if priority_match is not None:
        values["priority"] = _PRIORITIES[priority_match[1]]
        rest = _PRIORITY_RE.sub(" ", rest)
    depends: list[str] = []
    for depends_match in _DEPENDS_RE.finditer(rest):
        depends.extend(part.strip() for part in depends_match["ids"].split(","))
    rest = _DEPENDS_RE.sub(" ", rest)
    for field_match in _DATAVIEW.finditer(rest):
        key, value = field_match["key"].lower(), field_match["value"].strip()
        if key in ("depends", "dependson", "blockedby"):
            depends.extend(part.strip() for part in value.split(",") if part.strip())
        elif key in _DATAVIEW_FIELDS:
            values.setdefault(_DATAVIEW_FIELDS[key], value)
        elif key == "id" and explicit_id is None:
            explicit_id = value
    rest = _DATAVIEW.sub(" ", rest)
    estimate_match = _ESTIMATE.search(rest)
    if estimate_match is not None:
        values.setdefault("estimate", estimate_match["estimate"].replace(" ", ""))
        rest = rest[: estimate_match.start()] + " " + rest[estimate_match.end() :]
    tags = tuple(dict.fromkeys(match["tag"] for match in _TAG.finditer(rest)))
    rest = _TAG.sub(" ", rest)
    fields = InlineFields(
        priority=values.get("priority"),
        due=values.get("due"),
        scheduled=values.get("scheduled"),
        start=values.get("start"),
        done_on=values.get("done_on"),
        created=values.get("created"),
        estimate=values.get("estimate"),
        tags=tags,
        depends_on=tuple(depends),
    )
    title = _SPACE_RUN.sub(" ", rest).strip()
    return TaskText(title=title, label=label, explicit_id=explicit_id, fields=fields)
