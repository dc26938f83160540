"""The pure plan model: no I/O, no third-party imports."""

from __future__ import annotations

from sync_engine.domain.findings import Finding, Severity
from sync_engine.domain.model import (
    InlineFields,
    Phase,
    Plan,
    PlanFlags,
    Section,
    SourceInfo,
    Task,
)
from sync_engine.domain.progress import Progress, compute_progress
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable

__all__ = [
    "DEFAULT_STATUS_TABLE",
    "Finding",
    "InlineFields",
    "Phase",
    "Plan",
    "PlanFlags",
    "Progress",
    "Section",
    "Severity",
    "SourceInfo",
    "StatusTable",
    "Task",
    "compute_progress",
]
