"""Progress computed from the checkboxes, with phase and plan roll-ups."""

from __future__ import annotations

from dataclasses import dataclass

from sync_engine.domain.model import Plan, Task
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable


@dataclass(frozen=True, slots=True)
class Progress:
    """``done`` of ``total`` counted tasks; ``percent`` is ``None`` when there is none."""

    done: int
    total: int

    @property
    def percent(self) -> float | None:
        if self.total == 0:
            return None
        return round(100.0 * self.done / self.total, 1)


def _count(tasks: list[Task] | tuple[Task, ...], table: StatusTable) -> Progress:
    counted = [task for task in tasks if task.status not in table.excluded]
    done = sum(1 for task in counted if task.status in table.closed)
    return Progress(done=done, total=len(counted))


def compute_progress(
    plan: Plan, table: StatusTable = DEFAULT_STATUS_TABLE
) -> tuple[Progress, dict[int | None, Progress]]:
    """The plan's progress over all its tasks and each phase's (key ``None``: no phase).

    Every task counts once, sub-tasks included; cancelled tasks are left out.
    """
    per_phase: dict[int | None, Progress] = {}
    for phase in plan.phases:
        per_phase[phase.index] = _count(plan.tasks_in_phase(phase.index), table)
    loose = plan.tasks_in_phase(None)
    if loose:
        per_phase[None] = _count(loose, table)
    return _count(plan.tasks, table), per_phase
