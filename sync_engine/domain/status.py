"""The status vocabulary: checkbox characters and the named states they stand for.

``[ ]`` is ``todo`` and ``[x]``/``[X]`` are ``done``; other characters are named states from
a configurable table whose defaults follow Obsidian Tasks. A character that the table does
not know keeps its raw value as its status, so it is never rewritten by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

TODO = "todo"
DONE = "done"

_DEFAULT_STATES: Mapping[str, str] = MappingProxyType(
    {
        " ": TODO,
        "x": DONE,
        "X": DONE,
        "/": "in_progress",
        "-": "cancelled",
        ">": "deferred",
        "!": "important",
        "?": "question",
    }
)


@dataclass(frozen=True, slots=True)
class StatusTable:
    """Maps checkbox characters to status names and back.

    Args:
        states: character → status name. ``" "`` must map to ``todo`` and ``"x"`` to ``done``.
        closed: the status names that count as finished for progress (``done`` and
            ``cancelled`` by default; cancelled tasks are left out of the ratio).
    """

    states: Mapping[str, str] = field(default_factory=lambda: _DEFAULT_STATES)
    closed: frozenset[str] = frozenset({DONE})
    excluded: frozenset[str] = frozenset({"cancelled"})

    def status_of(self, char: str) -> str:
        """The status name of a checkbox character; an unknown character is its own status."""
        return self.states.get(char, char)

    def char_for(self, status: str, style: str = "x") -> str:
        """The checkbox character to write for ``status``.

        ``style`` is the plan's own way of writing done (``x`` or ``X``). A status with no
        character in the table is only accepted when it is a single character itself.

        Raises:
            ValueError: the status is not in the table and is not a single character.
        """
        if status == DONE:
            return style if style in ("x", "X") else "x"
        for char, name in self.states.items():
            if name == status:
                return char
        if len(status) == 1:
            return status
        raise ValueError(f"unknown status {status!r}; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        seen: dict[str, None] = {}
        for name in self.states.values():
            seen.setdefault(name, None)
        return list(seen)

    def is_checkbox_char(self, char: str) -> bool:
        """Whether ``[char]`` at the start of a list item makes it a task.

        Digits are not checkboxes unless the table names them: plans use ``- [1] Phase 1``
        as numbering.
        """
        if len(char) != 1 or char in "[]":
            return False
        if char in self.states:
            return True
        return not char.isdigit() and not char.isspace()

    @classmethod
    def from_mapping(cls, states: Mapping[str, str]) -> StatusTable:
        merged = dict(_DEFAULT_STATES)
        merged.update(states)
        return cls(states=MappingProxyType(merged))


DEFAULT_STATUS_TABLE = StatusTable()
