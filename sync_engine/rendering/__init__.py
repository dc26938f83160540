"""Minimal-edit write-back: apply edits to a plan's bytes, touching only the lines concerned."""

from __future__ import annotations

from sync_engine.rendering.document import RenderError
from sync_engine.rendering.edits import (
    DeleteTask,
    Edit,
    InsertTask,
    MoveTask,
    SetDeclaredProgress,
    SetStatus,
    SetText,
)
from sync_engine.rendering.renderer import apply_edits

__all__ = [
    "DeleteTask",
    "Edit",
    "InsertTask",
    "MoveTask",
    "RenderError",
    "SetDeclaredProgress",
    "SetStatus",
    "SetText",
    "apply_edits",
]
