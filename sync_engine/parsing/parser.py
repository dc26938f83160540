"""Markdown bytes → :class:`~sync_engine.domain.Plan`, tolerating what people really write.

markdown-it-py gives the block structure (lists, paragraphs, headings, code, HTML) with
source line maps; the forms on each line (checkboxes, labels, inline fields, phase headings,
version lines) are read by :mod:`sync_engine.parsing.patterns`. The parser never raises: a
file it cannot fully read is parsed as far as possible and reported with findings, and is
flagged so that the sync leaves it alone.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from sync_engine.domain.findings import Finding, Severity
from sync_engine.domain.model import Phase, Plan, PlanFlags, Section, SourceInfo, Task
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable
from sync_engine.parsing.decoding import decode, dominant_newline, line_body
from sync_engine.parsing.fences import normalise_fences
from sync_engine.parsing.patterns import (
    analyse_task_text,
    heading_progress,
    parse_meta_line,
    parse_phase_heading,
    plain,
    plain_spaces,
)

_CHECKBOX = re.compile(r"^\[(?P<char>[^\]\[])\](?:[ \t]+(?P<text>.*))?$")
# A checkbox opening a paragraph line without a bullet reads as one with a bullet does (the
# same characters and legend rule): a state written back to it must read back.
_BARE_CHECKBOX = re.compile(r"^\[(?P<char>[^\]\[])\][ \t]+(?P<text>\S.*)$")
_LEGEND = re.compile(r"^\S+(?:\s+\S+)?\s*=\s|^[:=]")
_CONFLICT_START = re.compile(r"^<{7}(?:\s|$)")
_CONFLICT_END = re.compile(r"^>{7}(?:\s|$)")
_BOLD_FIELD = re.compile(r"^\W{0,3}\*\*(?P<key>[^*]{1,40}?)\s*:?\*\*\s*:?\s*(?P<value>\S.*)$")
_HEADER_SCAN_LINES = 40
_PHASE_META_SCAN_LINES = 8


def _markdown() -> MarkdownIt:
    # Real plans nest lists 26 levels deep; the preset's limit of 20 tokens would swallow
    # everything below the tenth level.
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": 400}).enable("table")
    md.use(front_matter_plugin)
    # Only the block structure is needed: inline parsing is most of markdown-it's time.
    md.core.ruler.disable(["inline", "text_join"])
    return md


_MD = _markdown()


@dataclass(slots=True)
class _Heading:
    level: int
    line: int
    text: str


@dataclass(slots=True)
class _RawTask:
    line: int
    end_line: int
    char: str
    text: str
    indent: int
    depth: int
    parent: int | None
    bulleted: bool


@dataclass(slots=True)
class _Walk:
    headings: list[_Heading] = field(default_factory=list)
    tasks: list[_RawTask] = field(default_factory=list)
    code_lines: set[int] = field(default_factory=set)
    front_matter: str | None = None
    front_matter_line: int | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The plan and the source lines it was read from (with their line endings)."""

    plan: Plan
    lines: tuple[str, ...]


def _indent_width(body: str) -> int:
    width = 0
    for char in body:
        if char == " ":
            width += 1
        elif char == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def _last_content_line(bodies: list[str], start: int, end: int) -> int:
    """The last non-blank 1-based line in ``start..end`` (inclusive, 1-based)."""
    while end > start and not bodies[end - 1].strip():
        end -= 1
    return end


def _walk(tokens: list[Token], bodies: list[str], table: StatusTable) -> _Walk:
    walk = _Walk()
    # (first line of the item, index of its task or None, parent task index)
    items: list[tuple[int, int | None, int | None]] = []
    for position, token in enumerate(tokens):
        kind = token.type
        if kind == "list_item_open":
            parent = next((entry[1] for entry in reversed(items) if entry[1] is not None), None)
            start = token.map[0] + 1 if token.map else -1
            items.append((start, None, parent))
        elif kind == "list_item_close":
            items.pop()
        elif kind == "heading_open" and token.map:
            text = tokens[position + 1].content if position + 1 < len(tokens) else ""
            walk.headings.append(_Heading(int(token.tag[1:]), token.map[0] + 1, text))
        elif kind in ("fence", "code_block", "html_block") and token.map:
            walk.code_lines.update(range(token.map[0] + 1, token.map[1] + 1))
        elif kind == "front_matter" and token.map:
            walk.front_matter = token.content
            walk.front_matter_line = token.map[0] + 1
            walk.code_lines.update(range(token.map[0] + 1, token.map[1] + 1))
        elif kind == "paragraph_open" and token.map:
            inline = tokens[position + 1]
            _paragraph_tasks(walk, items, token.map, inline.content, bodies, table)
    return walk


def _is_task_checkbox(char: str, text: str, table: StatusTable) -> bool:
    """Whether ``[char] text`` is a task: a checkbox character, and not a legend line such
    as ``[/] = en cours``."""
    if not table.is_checkbox_char(char):
        return False
    return char in " xX" or _LEGEND.match(text) is None


def _paragraph_tasks(
    walk: _Walk,
    items: list[tuple[int, int | None, int | None]],
    line_map: list[int],
    content: str,
    bodies: list[str],
    table: StatusTable,
) -> None:
    first = line_map[0] + 1
    enclosing_task = next((entry[1] for entry in reversed(items) if entry[1] is not None), None)
    for offset, text_line in enumerate(content.split("\n")):
        number = first + offset
        if number > line_map[1]:
            break
        body = bodies[number - 1]
        if offset == 0 and items and items[-1][0] == number and items[-1][1] is None:
            match = _CHECKBOX.match(text_line)
            if match is None:
                continue
            text = (match["text"] or "").rstrip()
            if not text or not _is_task_checkbox(match["char"], text, table):
                continue
            start, _, parent = items[-1]
            walk.tasks.append(
                _RawTask(
                    line=number,
                    end_line=number,  # widened when the item closes: see _item_end_lines
                    char=match["char"],
                    text=text,
                    indent=_indent_width(body),
                    depth=len(items) - 1,
                    parent=parent,
                    bulleted=True,
                )
            )
            items[-1] = (start, len(walk.tasks) - 1, parent)
            continue
        bare = _BARE_CHECKBOX.match(text_line)
        if bare is None or not _is_task_checkbox(bare["char"], bare["text"], table):
            continue
        walk.tasks.append(
            _RawTask(
                line=number,
                end_line=number,
                char=bare["char"],
                text=bare["text"].rstrip(),
                indent=_indent_width(body),
                depth=max(len(items) - 1, 0),
                parent=enclosing_task,
                bulleted=False,
            )
        )


def _item_end_lines(tokens: list[Token], walk: _Walk, bodies: list[str]) -> None:
    """Give each bulleted task the span of its whole list item (sub-items included)."""
    by_line = {task.line: task for task in walk.tasks if task.bulleted}
    for token in tokens:
        if token.type == "list_item_open" and token.map:
            task = by_line.get(token.map[0] + 1)
            if task is not None:
                task.end_line = max(task.line, _last_content_line(bodies, task.line, token.map[1]))


def _phase_headings(headings: list[_Heading]) -> dict[int, tuple[int, str]]:
    """Which headings (by line) are phases: ``Phase N`` headings at their usual level or
    above; failing any, ``N.`` numbered headings at their usual level."""
    parsed = [(heading, parse_phase_heading(heading.text)) for heading in headings]
    explicit = [(h, p) for h, p in parsed if p is not None and p.explicit]
    candidates = explicit or [(h, p) for h, p in parsed if p is not None]
    if not candidates:
        return {}
    levels = Counter(heading.level for heading, _ in candidates)
    usual = min(levels, key=lambda level: (-levels[level], level))
    chosen: dict[int, tuple[int, str]] = {}
    for heading, phase in candidates:
        assert phase is not None
        if heading.level == usual or (explicit and heading.level < usual):
            chosen[heading.line] = (phase.number, phase.title)
    return chosen


def _span_end(headings: list[_Heading], index: int, level: int, last_line: int) -> int:
    for later in headings[index + 1 :]:
        if later.level <= level:
            return later.line - 1
    return last_line


def _declared_progress(
    bodies: list[str], start: int, stop: int, code: set[int]
) -> tuple[float | None, int | None]:
    for number in range(start, min(stop, start + _PHASE_META_SCAN_LINES) + 1):
        if number in code or number > len(bodies):
            continue
        meta = parse_meta_line(bodies[number - 1])
        if meta is not None and meta.progress is not None:
            return meta.progress, number
    return None, None


def _structure(walk: _Walk, bodies: list[str]) -> tuple[list[Phase], list[Section], list[_Heading]]:
    last_line = len(bodies)
    phase_lines = _phase_headings(walk.headings)
    task_lines = sorted(task.line for task in walk.tasks)
    phases: list[Phase] = []
    sections: list[Section] = []
    section_stack: list[Section] = []
    for index, heading in enumerate(walk.headings):
        end = _span_end(walk.headings, index, heading.level, last_line)
        if heading.line in phase_lines:
            number, title = phase_lines[heading.line]
            after = bisect.bisect_right(task_lines, heading.line)
            first_task = task_lines[after] if after < len(task_lines) else end + 1
            next_heading = walk.headings[index + 1].line if index + 1 < len(walk.headings) else end
            stop = min(first_task - 1, next_heading - 1, end)
            progress, progress_line = _declared_progress(
                bodies, heading.line + 1, stop, walk.code_lines
            )
            if progress is None:
                progress = heading_progress(heading.text)
                progress_line = heading.line if progress is not None else None
            phases.append(
                Phase(
                    index=len(phases),
                    number=number,
                    title=title,
                    heading=plain(heading.text).strip(),
                    level=heading.level,
                    line=heading.line,
                    end_line=end,
                    declared_progress=progress,
                    declared_progress_line=progress_line,
                )
            )
            section_stack.clear()
            continue
        while section_stack and section_stack[-1].level >= heading.level:
            section_stack.pop()
        section = Section(
            index=len(sections),
            level=heading.level,
            title=plain(heading.text).strip(),
            line=heading.line,
            end_line=end,
            parent=section_stack[-1].index if section_stack else None,
            phase=_containing_phase(phases, heading.line),
        )
        sections.append(section)
        section_stack.append(section)
    return phases, sections, walk.headings


def _containing_phase(phases: list[Phase], line: int) -> int | None:
    for phase in reversed(phases):
        if phase.line <= line <= phase.end_line:
            return phase.index
    return None


def _owner_by_line(spans: list[tuple[int, int, int]], line_count: int) -> list[int | None]:
    """For each line, the index of the innermost span holding it. Spans must be given in
    order of their first line; nested spans start later and so overwrite their parents."""
    owner: list[int | None] = [None] * (line_count + 2)
    for start, end, index in spans:
        owner[start : end + 1] = [index] * (end - start + 1)
    return owner


def _front_matter(walk: _Walk, findings: list[Finding]) -> Mapping[str, Any]:
    if walk.front_matter is None:
        return MappingProxyType({})
    try:
        loaded = yaml.safe_load(walk.front_matter)
    except yaml.YAMLError as error:
        findings.append(
            Finding(
                "front-matter-invalid",
                Severity.WARNING,
                f"front matter is not valid YAML: {str(error).splitlines()[0]}",
                line=walk.front_matter_line,
                hint="fix the YAML between the --- lines",
            )
        )
        return MappingProxyType({})
    if not isinstance(loaded, dict):
        return MappingProxyType({})
    return MappingProxyType({str(key): value for key, value in loaded.items()})


def _header(
    bodies: list[str], phases: list[Phase], walk: _Walk
) -> tuple[dict[str, Any], dict[str, str]]:
    """Version, date and declared progress from the lines before the first phase."""
    stop = phases[0].line - 1 if phases else min(len(bodies), _HEADER_SCAN_LINES)
    task_lines = {task.line for task in walk.tasks}
    found: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for number in range(1, stop + 1):
        if number in walk.code_lines or number in task_lines:
            continue
        body = bodies[number - 1]
        meta = parse_meta_line(body)
        if meta is not None:
            found.setdefault("meta_line", number)
            if meta.version is not None and "version" not in found:
                found["version"] = meta.version
                found["version_line"] = number
            if meta.date is not None and "date" not in found:
                found["date"] = meta.date
                found["date_line"] = number
            if meta.progress is not None and "progress" not in found:
                found["progress"] = meta.progress
                found["progress_line"] = number
            continue
        field_match = _BOLD_FIELD.match(plain_spaces(body))
        if field_match is not None and len(metadata) < 50:
            metadata.setdefault(field_match["key"].strip(), field_match["value"].strip())
    return found, metadata


def _conflict_marker_lines(bodies: list[str]) -> list[int]:
    starts = [n for n, body in enumerate(bodies, 1) if _CONFLICT_START.match(body)]
    ends = [n for n, body in enumerate(bodies, 1) if _CONFLICT_END.match(body)]
    if not starts or not ends:
        return []
    return sorted(starts + ends)


def _source_findings(
    decoded_exact: bool, error_offset: int | None, data: bytes, markers: list[int]
) -> list[Finding]:
    findings: list[Finding] = []
    if not decoded_exact:
        offset = error_offset or 0
        line = data[:offset].count(b"\n") + 1
        findings.append(
            Finding(
                "undecodable",
                Severity.ERROR,
                f"bytes at offset {offset} are not valid UTF-8; the plan is read with "
                "replacement characters and will not be synced until fixed",
                line=line,
                hint="re-save the file as UTF-8",
            )
        )
    if markers:
        findings.append(
            Finding(
                "conflict-markers",
                Severity.ERROR,
                "git merge-conflict markers (<<<<<<< / >>>>>>>) on lines "
                + ", ".join(map(str, markers[:6]))
                + "; the plan will not be synced until the merge is finished",
                line=markers[0],
                hint="resolve the merge and remove the markers",
            )
        )
    return findings


def _fence_findings(info_closes: list[int], unclosed: list[int]) -> list[Finding]:
    findings = [
        Finding(
            "fence-closed-with-info",
            Severity.WARNING,
            "code fence closed with an info string; read as a close, as the author meant "
            "(strict CommonMark would treat the rest of the file as code)",
            line=line,
            hint="write the closing fence as a bare ``` line",
        )
        for line in info_closes
    ]
    findings.extend(
        Finding(
            "unclosed-fence",
            Severity.WARNING,
            "code fence opened here is never closed; everything after it is code",
            line=line,
            hint="add a closing ``` line",
        )
        for line in unclosed
    )
    return findings


def parse_plan(
    data: bytes, path: str = "<memory>", table: StatusTable = DEFAULT_STATUS_TABLE
) -> ParseResult:
    """Parse one plan file's bytes. Never raises."""
    decoded = decode(data)
    lines = decoded.lines()
    bodies = [line_body(line) for line in lines]
    markers = _conflict_marker_lines(bodies)
    findings = _source_findings(decoded.exact, decoded.error_offset, data, markers)
    md_bodies, fence_report = normalise_fences(bodies)
    findings.extend(
        _fence_findings(
            fence_report.info_closes, sorted(fence_report.unclosed + fence_report.forgotten)
        )
    )
    tokens = _MD.parse("\n".join(md_bodies))
    walk = _walk(tokens, bodies, table)
    _item_end_lines(tokens, walk, bodies)
    phases, sections, _ = _structure(walk, bodies)
    front_matter = _front_matter(walk, findings)
    header, metadata = _header(bodies, phases, walk)
    line_count = len(bodies)
    phase_of = _owner_by_line([(p.line, p.end_line, p.index) for p in phases], line_count)
    section_of = _owner_by_line([(s.line, s.end_line, s.index) for s in sections], line_count)
    tasks = tuple(
        _finish_task(index, raw, phase_of[raw.line], section_of[raw.line], table)
        for index, raw in enumerate(walk.tasks)
    )
    title_heading = next((h for h in walk.headings if h.level == 1), None)
    title: str | None = plain(title_heading.text).strip() if title_heading else None
    if title is None and isinstance(front_matter.get("title"), str):
        title = front_matter["title"]
    date = header.get("date")
    if date is None and front_matter.get("date") is not None:
        date = str(front_matter["date"])
    plan = Plan(
        path=path,
        title=title,
        title_line=title_heading.line if title_heading else None,
        version=header.get("version"),
        date=date,
        declared_progress=header.get("progress"),
        declared_progress_line=header.get("progress_line"),
        meta_line=header.get("meta_line"),
        version_line=header.get("version_line"),
        date_line=header.get("date_line"),
        front_matter=front_matter,
        metadata=MappingProxyType(metadata),
        phases=tuple(phases),
        sections=tuple(sections),
        tasks=tasks,
        source=SourceInfo(
            encoding=decoded.encoding,
            bom=decoded.bom,
            newline=dominant_newline(lines),
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            line_count=len(lines),
        ),
        findings=tuple(sorted(findings, key=lambda f: (f.line or 0, f.code))),
        flags=PlanFlags(undecodable=not decoded.exact, conflict_markers=bool(markers)),
    )
    return ParseResult(plan=plan, lines=tuple(lines))


def _finish_task(
    index: int, raw: _RawTask, phase: int | None, section: int | None, table: StatusTable
) -> Task:
    analysed = analyse_task_text(raw.text)
    return Task(
        index=index,
        line=raw.line,
        end_line=raw.end_line,
        char=raw.char,
        status=table.status_of(raw.char),
        text=raw.text,
        title=analysed.title,
        label=analysed.label,
        explicit_id=analysed.explicit_id,
        fields=analysed.fields,
        depth=raw.depth,
        indent=raw.indent,
        parent=raw.parent,
        phase=phase,
        section=section,
        bulleted=raw.bulleted,
    )
