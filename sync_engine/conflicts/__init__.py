"""Three-way conflict detection, field-level merge and pluggable strategies (pure).

:func:`merge_plan` compares base, file and database versions of one plan and says what each
side should become; a :class:`ConflictPolicy` names the :class:`ConflictStrategy` that settles
each :class:`ConflictType`. Strategies are entry-point plug-ins (:func:`load_strategies`).
"""

from __future__ import annotations

from sync_engine.conflicts.merge import HeldField, MergeResult, merge_plan
from sync_engine.conflicts.model import (
    EXISTS,
    META_FIELDS,
    TASK_FIELDS,
    Conflict,
    ConflictType,
    PlanState,
    Resolution,
    TaskState,
)
from sync_engine.conflicts.policy import SEVERITIES, ConflictPolicy
from sync_engine.conflicts.strategies import (
    ENTRY_POINT_GROUP,
    AutoMergeStrategy,
    ConflictStrategy,
    DatabaseWinsStrategy,
    ManualStrategy,
    MarkdownWinsStrategy,
    load_strategies,
)
from sync_engine.conflicts.text_merge import merge_words

__all__ = [
    "ENTRY_POINT_GROUP",
    "EXISTS",
    "META_FIELDS",
    "SEVERITIES",
    "TASK_FIELDS",
    "AutoMergeStrategy",
    "Conflict",
    "ConflictPolicy",
    "ConflictStrategy",
    "ConflictType",
    "DatabaseWinsStrategy",
    "HeldField",
    "ManualStrategy",
    "MarkdownWinsStrategy",
    "MergeResult",
    "PlanState",
    "Resolution",
    "TaskState",
    "load_strategies",
    "merge_plan",
    "merge_words",
]
