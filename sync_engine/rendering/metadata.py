"""Rewriting a plan's metadata where the file holds it: the title in its ``#`` heading (or
its front matter), a phase's title in the phase heading, the version and the date on the
line they were read from (or the front matter). Only the value changes: heading marks,
``Phase N`` numbering, emoji, emphasis and status marks around it stay as they are.
"""

from __future__ import annotations

import json
import re

from sync_engine.domain.model import Plan
from sync_engine.parsing.decoding import line_body, line_ending
from sync_engine.parsing.patterns import plain_spaces
from sync_engine.rendering.document import Document, RenderError
from sync_engine.rendering.edits import SetMetadata, SetTitle

__all__ = ["set_metadata", "set_title", "writable_metadata"]

_MARKS = "*_`"
_HEADING_MARKS = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+|^[ \t]*")
_FRONT_MATTER_END = ("---", "...")
_PLAIN_YAML = re.compile(r"^[\w\u00c0-\uffff][^:#\n]*(?<![ \t])$")


def writable_metadata(plan: Plan) -> set[str]:
    """The plan metadata the file has a place for: ``title``, ``version``, ``date``."""
    places = {
        "title": plan.title_line is not None or isinstance(plan.front_matter.get("title"), str),
        "version": plan.version_line is not None,
        "date": plan.date_line is not None or plan.front_matter.get("date") is not None,
    }
    return {name for name, found in places.items() if found}


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


def _set_front_matter(doc: Document, key: str, value: str) -> None:
    """Rewrite ``key: …`` in the front matter (the block between the first two ``---``)."""
    if not doc.lines or line_body(doc.lines[0]).lstrip("\ufeff").strip() != "---":
        raise RenderError(f"the file has no front matter to hold its {key}")
    entry = re.compile(rf"^(?P<lead>{key}\s*:\s*)(?P<value>.*?)(?P<trail>\s*)$")
    for number in range(2, len(doc.lines) + 1):
        body = line_body(doc.current(number))
        if body.strip() in _FRONT_MATTER_END:
            break
        match = entry.match(body)
        if match is not None:
            written = _yaml_scalar(value, match["value"])
            doc.replaced[number] = (
                match["lead"] + written + match["trail"] + line_ending(doc.current(number))
            )
            return
    raise RenderError(f"the front matter has no {key} line")


def _yaml_scalar(value: str, old: str) -> str:
    """``value`` as a YAML scalar, quoted as the old one was, or when it has to be."""
    if old[:1] == "'" and old[-1:] == "'":
        return "'" + value.replace("'", "''") + "'"
    if old[:1] == '"' or not _PLAIN_YAML.match(value):
        return json.dumps(value, ensure_ascii=False)
    return value
