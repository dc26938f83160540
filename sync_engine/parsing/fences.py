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
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
_MARKDOWN_INFOS = frozenset({"markdown", "md", "mdx", "gfm", "commonmark"})
# Not a fence for markdown-it, and the fence body is never read as Markdown anyway. It goes
# after the line's indentation: a line at the margin would end the list item holding the
# block (and the block with it).
_NEUTRALISED_PREFIX = "\u200b"
# A checkbox list item at the margin inside a code block means the author forgot to close it.
# Any checkbox state counts (not only [ ] and [x]): a state written back to such a task must
# not put it back inside the block.
_MARGIN_TASK = re.compile(r"^ {0,3}(?:[-*+]|\d+[.)])[ \t]+\[[^\]\[\d\t]\][ \t]+\S")


@dataclass(slots=True)
class FenceReport:
    """Lines (1-based) where the pre-pass read a fence differently from strict CommonMark."""

    info_closes: list[int] = field(default_factory=list)
    unclosed: list[int] = field(default_factory=list)
    forgotten: list[int] = field(default_factory=list)
    nested: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Open:
    line: int
    char: str
    length: int
    markdown: bool
    language: bool
    depth: int = 0


def _info_word(info: str) -> str:
    words = info.strip().split()
    return words[0].lower().strip("{}.") if words else ""


def _closer_words(bodies: list[str]) -> set[str]:
    """The info string this file uses to close fences, if any (a formatter that writes
    every close as ```` ```plaintext ````): the most frequent info word, seldom following
    itself, on at least a third of the fence lines that carry one, more often than bare
    fence lines."""
    words: list[str] = []
    bare = 0
    for body in bodies:
        match = _FENCE.match(body)
        if match is None or (match["marker"][0] == "`" and "`" in match["info"]):
            continue
        word = _info_word(match["info"])
        if word:
            words.append(word)
        else:
            bare += 1
    if not words:
        return set()
    word, count = Counter(words).most_common(1)[0]
    repeats = sum(1 for first, second in pairwise(words) if first == second == word)
    if count >= 3 and count > bare and 3 * count >= len(words) and 5 * repeats <= count:
        return {word}
    return set()


def _neutralised(fence: re.Match[str]) -> str:
    return fence["indent"] + _NEUTRALISED_PREFIX + fence["marker"] + fence["info"]


def normalise_fences(bodies: list[str]) -> tuple[list[str], FenceReport]:
    """Rewrite the fence lines of ``bodies`` (lines without endings) so that markdown-it
    reads the fences as meant. Returns new lines (same count) and a report."""
    report = FenceReport()
    out = list(bodies)
    closers = _closer_words(bodies)
    current: _Open | None = None
    for number, body in enumerate(bodies, start=1):
        match = _FENCE.match(body)
        if match is None:
            if (
                current is not None
                and current.language
                and not current.markdown
                and number - 1 > current.line
                and _MARGIN_TASK.match(body)
            ):
                # Close the forgotten block on the line before the task (a code line, whose
                # text is never read as Markdown anyway) so the task and what follows count.
                report.forgotten.append(current.line)
                out[number - 2] = current.char * current.length
                current = None
            continue
        marker, info = match["marker"], match["info"]
        char = marker[0]
        if char == "`" and "`" in info:
            continue  # inline code such as ```a``` is not a fence line
        if current is None:
            word = _info_word(info)
            current = _Open(number, char, len(marker), word in _MARKDOWN_INFOS, bool(word))
            continue
        if char != current.char or len(marker) < current.length:
            continue
        word = _info_word(info)
        bare = not word
        if current.markdown:
            if word in closers:
                report.info_closes.append(number)
                out[number - 1] = match["indent"] + marker
                bare = True
            if not bare:
                current.depth += 1
                report.nested.append(number)
                out[number - 1] = _neutralised(match)
            elif current.depth:
                current.depth -= 1
                out[number - 1] = _neutralised(match)
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
