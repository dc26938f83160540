"""Rewriting a plan's metadata where the file holds it: the title in its ``#`` heading (or
its front matter), a phase's title in the phase heading, the version and the date on the
line they were read from (or the front matter). Only the value changes: heading marks,
``Phase N`` numbering, emoji, emphasis and status marks around it stay as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from sync_engine.domain.model import Plan
from sync_engine.parsing.decoding import line_body, line_ending
from sync_engine.parsing.parser import ParseResult
from sync_engine.parsing.patterns import plain_spaces
from sync_engine.rendering.document import Document, RenderError
from sync_engine.rendering.edits import SetMetadata, SetTitle

__all__ = ["set_metadata", "set_title", "writable_metadata"]

_MARKS = "*_`"
_HEADING_MARKS = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+|^[ \t]*")
_FRONT_MATTER_END = ("---", "...")
_PLAIN_YAML = re.compile(r"^[\w\u00c0-\uffff][^:#\n]*(?<![ \t])$")


def writable_metadata(parsed: ParseResult) -> set[str]:
    """The plan metadata the file has a place for, where its value can be found: ``title``,
    ``version``, ``date``, and ``phases[N]`` for the phase of index N."""
    plan = parsed.plan

    def body(number: int | None) -> str:
        return line_body(parsed.lines[number - 1]) if number else ""

    found: set[str] = set()
    if (plan.title_line and _title_in(body(plan.title_line), plan.title or "")) or (
        plan.title_line is None and _in_front_matter(parsed.lines, "title", plan.title)
    ):
        found.add("title")
    if plan.version and _value_in(body(plan.version_line), plan.version, "version"):
        found.add("version")
    if (plan.date and _value_in(body(plan.date_line), plan.date, "date")) or (
        plan.date_line is None and _in_front_matter(parsed.lines, "date", plan.date)
    ):
        found.add("date")
    for phase in plan.phases:
        if not phase.title or _title_in(body(phase.line), phase.title):
            found.add(f"phases[{phase.index}]")
    return found


def _one_line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value or not value.strip():
        raise RenderError(f"a {what} is one non-empty line")
    return value.strip()


def set_title(doc: Document, plan: Plan, edit: SetTitle) -> None:
    title = _one_line(edit.title, "title")
    if edit.phase is not None:
        if not 0 <= edit.phase < len(plan.phases):
            raise RenderError(f"{plan.path} has no phase index {edit.phase}")
        phase = plan.phases[edit.phase]
        _replace_in_line(doc, phase.line, phase.title, title, append=True)
    elif plan.title_line is not None:
        _replace_in_line(doc, plan.title_line, plan.title or "", title, append=False)
    elif isinstance(plan.front_matter.get("title"), str):
        _set_front_matter(doc, "title", title)
    else:
        raise RenderError(f"{plan.path} has no title to rewrite")


def set_metadata(doc: Document, plan: Plan, edit: SetMetadata) -> None:
    value = _one_line(edit.value, edit.field)
    line = plan.version_line if edit.field == "version" else plan.date_line
    old = plan.version if edit.field == "version" else plan.date
    if line is not None and old is not None:
        body = line_body(doc.current(line))
        match = _value_in(body, old, edit.field)
        if match is None:
            raise RenderError(f"line {line} does not hold the {edit.field} {old!r}")
        start, end = match
        doc.replaced[line] = body[:start] + value + body[end:] + line_ending(doc.current(line))
    elif edit.field == "date" and plan.front_matter.get("date") is not None:
        _set_front_matter(doc, "date", value)
    else:
        raise RenderError(f"{plan.path} has no {edit.field} to rewrite")


def _value_in(body: str, old: str, field: str) -> tuple[int, int] | None:
    """Where the version (after the word ``version``) or the date is on the line."""
    text = plain_spaces(body)  # the same length: positions hold
    if field == "version":
        word = re.search(r"version", text, re.IGNORECASE)
        pattern = r"(?<![\d.])" + re.escape(old) + r"(?!\.?\d)"
        match = re.compile(pattern).search(text, word.end() if word else 0)
    else:
        pattern = r"\s+".join(re.escape(part) for part in old.split())
        match = re.compile(pattern, re.IGNORECASE).search(text)
    return match.span() if match else None


def _replace_in_line(doc: Document, number: int, old: str, new: str, *, append: bool) -> None:
    line = doc.current(number)
    body, ending = line_body(line), line_ending(line)
    span = _title_in(body, old) if old else None
    if span is not None:
        start, end = span
        doc.replaced[number] = body[:start] + new + body[end:] + ending
    elif append:  # a heading with no title yet ("## Phase 3"): the title goes after it
        stripped = body.rstrip()
        separator = " " if stripped.endswith(":") else ": "
        doc.replaced[number] = stripped + separator + new + body[len(stripped) :] + ending
    else:
        raise RenderError(f"line {number} does not hold the title {old!r}")


def _title_in(body: str, old: str) -> tuple[int, int] | None:
    """Where the title is on its heading line: as written, else with emphasis marks between
    its characters (then the emphasis around it goes with it, so none is left unbalanced).
    The last occurrence, after the heading marks: the title follows any numbering."""
    text = plain_spaces(body)
    skip = _HEADING_MARKS.match(text)
    start = skip.end() if skip else 0
    found = text.rfind(old, start)
    if found >= 0:
        return found, found + len(old)
    gap = "[" + re.escape(_MARKS) + "]*"
    pieces = [r"\s+" if char.isspace() else re.escape(char) for char in old if char]
    matches = list(re.finditer(gap.join(pieces), text[start:]))
    if not matches:
        return None
    begin, end = (start + index for index in matches[-1].span())
    if any(char in _MARKS for char in text[begin:end]):
        while begin > start and text[begin - 1] in _MARKS:
            begin -= 1
        while end < len(text) and text[end] in _MARKS:
            end += 1
    return begin, end


def _front_matter_line(lines: Sequence[str], key: str) -> tuple[int, re.Match[str]] | None:
    """The line (1-based) of ``key: …`` in the front matter, and its parts."""
    if not lines or line_body(lines[0]).lstrip("\ufeff").strip() != "---":
        return None
    entry = re.compile(rf"^(?P<lead>{key}\s*:\s*)(?P<value>.*?)(?P<trail>\s*)$")
    for number in range(2, len(lines) + 1):
        body = line_body(lines[number - 1])
        if body.strip() in _FRONT_MATTER_END:
            return None
        match = entry.match(body)
        if match is not None:
            return number, match
    return None


def _in_front_matter(lines: Sequence[str], key: str, value: str | None) -> bool:
    """Whether the front matter holds ``value`` on one ``key: …`` line (quoted or not)."""
    found = _front_matter_line(lines, key)
    if found is None or value is None:
        return False
    raw = found[1]["value"]
    if raw[:1] in ("'", '"') and raw[-1:] == raw[:1] and len(raw) > 1:
        raw = raw[1:-1].replace("''", "'") if raw[0] == "'" else raw[1:-1].replace('\\"', '"')
    return raw == value


def _set_front_matter(doc: Document, key: str, value: str) -> None:
    """Rewrite ``key: …`` in the front matter (the block between the first two ``---``)."""
    found = _front_matter_line([doc.current(n) for n in range(1, len(doc.lines) + 1)], key)
    if found is None:
        raise RenderError(f"the front matter has no {key} line")
    number, match = found
    doc.replaced[number] = (
        match["lead"]
        + _yaml_scalar(value, match["value"])
        + match["trail"]
        + line_ending(doc.current(number))
    )


def _yaml_scalar(value: str, old: str) -> str:
    """``value`` as a YAML scalar, quoted as the old one was, or when it has to be."""
    if old[:1] == "'" and old[-1:] == "'":
        return "'" + value.replace("'", "''") + "'"
    if old[:1] == '"' or not _PLAIN_YAML.match(value):
        return json.dumps(value, ensure_ascii=False)
    return value
