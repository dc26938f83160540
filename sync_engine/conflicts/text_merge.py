"""Word-level three-way merge of a task's text (diff3 over word and whitespace tokens).

A text is cut into tokens — runs of whitespace, runs of word characters (Unicode-aware, so
``é`` belongs to its word) and single other characters (punctuation, emoji) — whose
concatenation is exactly the text, so the merge keeps every space and mark of its inputs.
Each side's edits against the base are found with :class:`difflib.SequenceMatcher`. Edits
of the two sides whose base spans overlap, or that insert at the same point, or where one
inserts strictly inside the span the other replaces, form one region, which merges only when
both sides made it identical; otherwise the merge gives up (``None``) rather than guess.
Edits that merely touch (a word replaced, another inserted right after it) have one obvious
order and merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class _Edit:
    """Base tokens ``start:end`` replaced by ``tokens`` on one side (0 = ours, 1 = theirs)."""

    start: int
    end: int
    tokens: tuple[str, ...]
    side: int


def tokenize(text: str) -> list[str]:
    """Whitespace runs, word runs and single other characters; ``"".join`` gives ``text``."""
    return _TOKEN.findall(text)


def _edits(base: list[str], other: list[str], side: int) -> list[_Edit]:
    matcher = SequenceMatcher(None, base, other, autojunk=False)
    return [
        _Edit(i1, i2, tuple(other[j1:j2]), side)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _apply(base: list[str], start: int, end: int, edits: list[_Edit]) -> list[str]:
    """Base tokens ``start:end`` with one side's edits (all inside that span) applied."""
    out: list[str] = []
    cursor = start
    for edit in edits:
        out += base[cursor : edit.start]
        out += edit.tokens
        cursor = edit.end
    out += base[cursor:end]
    return out


def _regions(edits: list[_Edit]) -> list[list[_Edit]]:
    """Edits grouped into regions whose order is ambiguous (see the module docstring).

    Sorted by span, an insertion sorts before a replacement that starts at the same point,
    so an edit joins the region so far when it starts inside its span, or when both are
    insertions at one point.
    """
    regions: list[list[_Edit]] = []
    start = end = -1
    for edit in sorted(edits, key=lambda e: (e.start, e.end, e.side)):
        same_point = start == end == edit.start == edit.end
        if regions and (edit.start < end or same_point):
            regions[-1].append(edit)
            end = max(end, edit.end)
        else:
            regions.append([edit])
            start, end = edit.start, edit.end
    return regions


def merge_words(base: str, ours: str, theirs: str) -> str | None:
    """Both sides' edits of ``base`` in one text, or ``None`` when they overlap.

    >>> merge_words("Écrire les tests", "Écrire les tests unitaires", "Relire les tests")
    'Relire les tests unitaires'
    >>> merge_words("Écrire les tests", "Écrire des tests", "Écrire nos tests") is None
    True
    """
    if ours == theirs or theirs == base:
        return ours
    if ours == base:
        return theirs
    base_tokens = tokenize(base)
    edits = _edits(base_tokens, tokenize(ours), 0) + _edits(base_tokens, tokenize(theirs), 1)
    out: list[str] = []
    cursor = 0
    for region in _regions(edits):
        start = min(edit.start for edit in region)
        end = max(edit.end for edit in region)
        mine = [edit for edit in region if edit.side == 0]
        yours = [edit for edit in region if edit.side == 1]
        merged = _apply(base_tokens, start, end, mine or yours)
        if mine and yours and merged != _apply(base_tokens, start, end, yours):
            return None
        out += base_tokens[cursor:start]
        out += merged
        cursor = end
    out += base_tokens[cursor:]
    return "".join(out)
