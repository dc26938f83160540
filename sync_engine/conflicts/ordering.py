"""Document order of the merged plan.

Absolute positions are a poor signal (one inserted line shifts every later task), so order
is merged by anchors instead:

1. A side *moved* a task when the task is outside the longest run of tasks that keep their
   base order on that side (:class:`difflib.SequenceMatcher` over the tasks that side shares
   with the base). Only a real move counts; insertions and deletions elsewhere do not.
2. Each task takes its place from one source: the file when the file moved it or added it,
   else the database when the database moved or added it, else the base; a task both sides
   have and the base lacks (added on both, or a create-vs-create pair) from both.
3. The base order of the base-sourced tasks is the skeleton. The file's tasks are inserted,
   in file order, right after the nearest task that precedes them in the file and is already
   placed (or first); then the database's, likewise; then the tasks of both, in file order,
   after their predecessor in the file (by then everything else is placed). An inserted task
   goes past the tasks that follow its anchor when the file inserted them there and the
   task is the database's (so when both sides insert at one spot, the file's tasks come
   first), when both sides lack them (they are going), or when its own side lacks them and
   the other side has both and puts them first (a side that lacks a task has no say about
   where it goes).

One order is computed for every id; each target keeps the ids it has, in that order, and its
``position`` values are renumbered 0, 1, 2, … (see :mod:`sync_engine.conflicts.merge`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from difflib import SequenceMatcher
from enum import Enum
from functools import partial

from sync_engine.conflicts.model import TaskState


class _Source(Enum):
    BASE = "base"
    FILE = "file"
    DATABASE = "database"
    BOTH = "both"


def document_order(tasks: Mapping[str, TaskState]) -> list[str]:
    """Task ids by position; equal positions keep the mapping's order."""
    return [key for key, _ in sorted(tasks.items(), key=lambda item: item[1].position)]


def moved(base_order: Sequence[str], side_order: Sequence[str]) -> set[str]:
    """Ids present in both orders that the side moved relative to the others."""
    on_side = set(side_order)
    in_base = set(base_order)
    before = [key for key in base_order if key in on_side]
    after = [key for key in side_order if key in in_base]
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    kept: set[str] = set()
    for block in matcher.get_matching_blocks():
        kept.update(before[block.a : block.a + block.size])
    return set(before) - kept


class _Chain:
    """A singly linked list of ids with a head; ``None`` stands for the head."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._next: dict[str | None, str | None] = {}
        self._source: dict[str, _Source] = {}
        previous: str | None = None
        for key in ids:
            self._next[previous] = key
            self._source[key] = _Source.BASE
            previous = key
        self._next[previous] = None

    def __contains__(self, key: object) -> bool:
        return key in self._source

    def source_of(self, key: str) -> _Source:
        return self._source[key]

    def insert_after(
        self, anchor: str | None, key: str, source: _Source, skip: Callable[[str], bool]
    ) -> None:
        """Insert ``key`` after ``anchor`` and after the run of tasks that follow it and that
        ``skip`` says come first."""
        cursor = anchor
        while (following := self._next.get(cursor)) is not None and skip(following):
            cursor = following
        self._next[key] = self._next.get(cursor)
        self._next[cursor] = key
        self._source[key] = source

    def __iter__(self) -> Iterator[str]:
        cursor = self._next.get(None)
        while cursor is not None:
            yield cursor
            cursor = self._next.get(cursor)


def merged_order(
    base_order: Sequence[str], file_order: Sequence[str], database_order: Sequence[str]
) -> list[str]:
    """Every id of the three orders once, in the merged document order."""
    in_base = set(base_order)
    file_index = {key: index for index, key in enumerate(file_order)}
    database_index = {key: index for index, key in enumerate(database_order)}
    moved_in_file = moved(base_order, file_order)
    moved_in_database = moved(base_order, database_order)

    def source(key: str) -> _Source:
        if key in in_base:
            if key in moved_in_file:
                return _Source.FILE
            return _Source.DATABASE if key in moved_in_database else _Source.BASE
        if key in file_index:
            return _Source.BOTH if key in database_index else _Source.FILE
        return _Source.DATABASE

    chain = _Chain(key for key in base_order if source(key) is _Source.BASE)
    for side, order, mine, theirs in (
        (_Source.FILE, file_order, file_index, database_index),
        (_Source.DATABASE, database_order, database_index, file_index),
        (_Source.BOTH, file_order, file_index, database_index),
    ):
        anchor: str | None = None
        for key in order:
            if key in chain:
                anchor = key
            elif source(key) is side:
                skip = partial(
                    _goes_first, chain=chain, side=side, key=key, mine=mine, theirs=theirs
                )
                chain.insert_after(anchor, key, side, skip)
                anchor = key
    return list(chain)


def _goes_first(
    following: str,
    *,
    chain: _Chain,
    side: _Source,
    key: str,
    mine: Mapping[str, int],
    theirs: Mapping[str, int],
) -> bool:
    """Whether ``following`` (after the anchor) stays in front of ``key``, inserted by ``side``."""
    if side is _Source.DATABASE and chain.source_of(following) is _Source.FILE:
        return True  # the file's insertions at this spot stay in front
    if following in mine:
        return False
    # a task gone from both sides has no place to keep; where only this side lacks a task,
    # the other side's order decides (if it knows both)
    if following not in theirs:
        return True
    return key in theirs and theirs[following] < theirs[key]
