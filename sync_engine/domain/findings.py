"""Validation and parsing findings: what is wrong, where, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How bad a finding is. Errors cost 20 points of a plan's score, warnings 5."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a plan file.

    ``line`` is 1-based, or ``None`` when the problem concerns the whole file.
    """

    code: str
    severity: Severity
    message: str
    line: int | None = None
    hint: str | None = None
    path: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }
