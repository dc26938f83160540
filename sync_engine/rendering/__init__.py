"""Minimal-edit write-back: apply edits to a plan's bytes, touching only the lines concerned."""

from __future__ import annotations

from sync_engine.rendering.document import RenderError
from sync_engine.rendering.edits import (
    DeleteTask,
    Edit,
    InsertTask,
    MoveTask,
    SetDeclaredProgress,
    SetMetadata,
    SetStatus,
    SetText,
    SetTitle,
)
from sync_engine.rendering.metadata import writable_metadata
from sync_engine.rendering.renderer import apply_edits

__all__ = [
    "DeleteTask",
    "Edit",
    "InsertTask",
    "MoveTask",
    "RenderError",
    "SetDeclaredProgress",
    "SetMetadata",
    "SetStatus",
    "SetText",
    "SetTitle",
    "apply_edits",
    "writable_metadata",
]
