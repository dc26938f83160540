"""Document order of the merged plan.

Absolute positions are a poor signal (one inserted line shifts every later task), so the
order is merged by neighbours instead:

1. The file's order is the skeleton: the file keeps every move and insertion made in it.
2. A side *moved* a task when the task is outside the longest runs of tasks that keep their
   base order on that side (:class:`difflib.SequenceMatcher`), among the tasks that the base
   and both sides have: insertions and deletions are not moves, and neither is a move
   relative only to tasks the other side deleted.
3. Walking the database's order, each task the database moved (and the file did not) is
   taken out and put back after the task that precedes it in the database, and each task
   the file lacks (added in the database, or kept there) is put there too. It goes past the
   tasks after that anchor that the database puts first; past a task the database lacks
   when the file puts that task first, or when neither side can tell (so when both sides
   insert at one spot, the file's tasks come first).
4. A task whose place waits in an open conflict (``pinned``) keeps the file's spot in this
   order: each side keeps its own place, so neither side's order of it moves the other,
   and it counts neither as moved nor as an anchor. A task whose place conflict was just
   settled for the database's value (``from_database``) goes to the database's spot, as a
   task the database moved does.

One order is computed for every id; each target keeps the ids it has, in that order, and its
``position`` values are renumbered 0, 1, 2, … (see :mod:`sync_engine.conflicts.merge`).
Merging a merge's own two targets again gives back the same order: a second sync does not
shuffle lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from difflib import SequenceMatcher

from sync_engine.conflicts.model import TaskState


def document_order(tasks: Mapping[str, TaskState]) -> list[str]:
    """Task ids by position; equal positions keep the mapping's order."""
    return [key for key, _ in sorted(tasks.items(), key=lambda item: item[1].position)]


def moved(base_order: Sequence[str], side_order: Sequence[str], among: Set[str]) -> set[str]:
    """Ids of ``among`` that the side moved relative to the others of ``among``."""
    before = [key for key in base_order if key in among]
    after = [key for key in side_order if key in among]
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    kept: set[str] = set()
    for block in matcher.get_matching_blocks():
        kept.update(before[block.a : block.a + block.size])
    return set(before) - kept


def merged_order(
    base_order: Sequence[str],
    file_order: Sequence[str],
    database_order: Sequence[str],
    pinned: Set[str] = frozenset(),
    database_base_order: Sequence[str] | None = None,
    from_database: Set[str] = frozenset(),
) -> list[str]:
    """Every id of the file's and the database's orders once, in the merged order;
    ``pinned``: tasks whose place an open conflict holds (see the module docstring);
    ``database_base_order``: the order the engine last gave the database, where it differs
    from the base's (a pinned task kept in the database's spot), what its moves are seen
    against; ``from_database``: tasks that go to the database's spot."""
    in_base = set(base_order)
    in_file = {key: index for index, key in enumerate(file_order)}
    in_database = {key: index for index, key in enumerate(database_order)}
    common = in_base.intersection(in_file, in_database) - pinned - from_database
    moved_in_file = moved(base_order, file_order, common)
    moved_in_database = moved(database_base_order or base_order, database_order, common)
    order = list(file_order)
    anchor: str | None = None
    for key in database_order:
        if key in pinned and key in in_file:
            continue
        if (
            key not in in_file
            or key in from_database
            or (key in moved_in_database and key not in moved_in_file)
        ):
            if key in in_file:
                order.remove(key)
            at = 0 if anchor is None else order.index(anchor) + 1
            while at < len(order) and _goes_first(order[at], key, in_database, in_file):
                at += 1
            order.insert(at, key)
        anchor = key
    return order


def _goes_first(
    following: str, key: str, in_database: Mapping[str, int], in_file: Mapping[str, int]
) -> bool:
    """Whether ``following`` stays in front of ``key``, placed from the database."""
    if following in in_database:
        return in_database[following] < in_database[key]
    if key in in_file:
        return in_file[following] < in_file[key]
    return True
