"""Code fences as their authors meant them.

Strict CommonMark never closes a fence on a line with an info string: after
```` ```bash ```` … ```` ```plaintext ```` every following line is code, and every task after
it vanishes (real plans lose hundreds of tasks this way). This pre-pass reads such a line as
the close the author meant, and, inside ```` ```markdown ```` examples, reads inner fences as
nested examples rather than as the end of the outer block. It returns the lines to feed to
markdown-it (same count, so line maps hold) and what it noticed, for the validator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
_MARKDOWN_INFOS = frozenset({"markdown", "md", "mdx", "gfm", "commonmark"})
# Not a fence for markdown-it, and the fence body is never read as Markdown anyway.
_NEUTRALISED_PREFIX = "\u200b"


@dataclass(slots=True)
class FenceReport:
    """Lines (1-based) where the pre-pass read a fence differently from strict CommonMark."""

    info_closes: list[int] = field(default_factory=list)
    unclosed: list[int] = field(default_factory=list)
    nested: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Open:
    line: int
    char: str
    length: int
    markdown: bool
    depth: int = 0


def _info_word(info: str) -> str:
    words = info.strip().split()
    return words[0].lower().strip("{}.") if words else ""


def normalise_fences(bodies: list[str]) -> tuple[list[str], FenceReport]:
    """Rewrite the fence lines of ``bodies`` (lines without endings) so that markdown-it
    reads the fences as meant. Returns new lines (same count) and a report."""
    report = FenceReport()
    out = list(bodies)
    current: _Open | None = None
    for number, body in enumerate(bodies, start=1):
        match = _FENCE.match(body)
        if match is None:
            continue
        marker, info = match["marker"], match["info"]
        char = marker[0]
        if char == "`" and "`" in info:
            continue  # inline code such as ```a``` is not a fence line
        if current is None:
            current = _Open(number, char, len(marker), _info_word(info) in _MARKDOWN_INFOS)
            continue
        if char != current.char or len(marker) < current.length:
            continue
        bare = not info.strip()
        if current.markdown:
            if not bare:
                current.depth += 1
                report.nested.append(number)
                out[number - 1] = _NEUTRALISED_PREFIX + body
            elif current.depth:
                current.depth -= 1
                out[number - 1] = _NEUTRALISED_PREFIX + body
            else:
                current = None
            continue
        if not bare:
            report.info_closes.append(number)
            out[number - 1] = match["indent"] + marker
        current = None
    if current is not None:
        report.unclosed.append(current.line)
    return out, report
