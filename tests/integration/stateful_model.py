"""The model of the stateful sync test (``test_sync_stateful``): the plans it starts from,
the words people add to task texts, and what must never be lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync_engine.domain.model import Plan

PLANS = {
    "alpha.md": """# Plan Alpha

**Version 1.0 - 2026-01-10**

Une passerelle devant les services.

## Phase 1: Cadrage

- [ ] Inventorier les routes q001
- [x] Choisir la passerelle q002
  - [ ] Comparer Kong et Traefik q003
  - [/] Mesurer le trafic q004
- [ ] Rédiger l'ADR q005

## Phase 2: Socle

- [/] Initialiser le module q006
- [ ] Proxy inverse HTTP q007

## Phase 3: Livraison

- [ ] Déployer en recette q008
- [-] Mesurer la latence q009

Fin du plan.
""",
    "beta.md": """# Roadmap Beta

## Phase 1: Design

- [ ] Sketch the screens q010
- [ ] Review with the team q011

## Phase 2: Build

- [ ] Write the client q012
- [x] Set up continuous integration q013

Revue en fin de trimestre.
""",
}
FIRST_TOKEN = 14
CHARS = {"todo": " ", "done": "x", "in_progress": "/", "cancelled": "-"}
STATUSES = sorted(CHARS)
WORDS = ("Vérifier", "journaux", "cache", "retry", "quotas", "sonde", "schéma", "audit")
# Deletions per plan between two syncs stay below the mass-deletion guard (three or more
# tasks, and more than half of the plan's).
MIN_TASKS = 4


def is_token(word: str) -> bool:
    return len(word) == 4 and word[0] == "q" and word[1:].isdigit()


def tokens(text: str | None) -> set[str]:
    return {word for word in (text or "").split() if is_token(word)}


@dataclass
class Expectations:
    """What must not be lost. ``tokens``: words people added to task texts (each a fresh
    ``qNNN``), still wanted; ``statuses``: per task id, the statuses people set that are
    still wanted. A person's later edit of the same field on the same side, a deletion, or
    the settling of a conflict retires what it replaces; an edit made after the last sync
    stays wanted even if a conflict is settled meanwhile (it is newer than the settling)."""

    tokens: set[str] = field(default_factory=set)
    statuses: dict[str, set[str]] = field(default_factory=dict)
    unsynced_tokens: set[str] = field(default_factory=set)
    unsynced_statuses: dict[str, set[str]] = field(default_factory=dict)

    def text_edited(self, old: str, new: str) -> None:
        added = tokens(new) - tokens(old)
        self.tokens -= tokens(old) - tokens(new)
        self.tokens |= added
        self.unsynced_tokens |= added

    def status_edited(self, task_id: str | None, old: str | None, new: str) -> None:
        if task_id is None or old == new:  # the same checkbox written again: no edit
            return
        wanted = self.statuses.setdefault(task_id, set())
        wanted.discard(old or "")
        wanted.add(new)
        self.unsynced_statuses.setdefault(task_id, set()).add(new)

    def deleted(self, task_id: str | None, text: str, status: str, settling: bool = False) -> None:
        dropped = tokens(text)
        if settling:  # a settling does not undo what people wrote since the last sync
            dropped -= self.unsynced_tokens
        self.tokens -= dropped
        if task_id is not None and task_id in self.statuses:
            self.statuses[task_id].discard(status)

    def settled(self, task_id: str | None, field_name: str, losing: list[Any], chosen: Any) -> None:
        if field_name == "status" and task_id is not None:
            self.statuses[task_id] = {str(chosen)} | self.unsynced_statuses.get(task_id, set())
        elif field_name == "text":
            dropped = set().union(*(tokens(value) for value in losing)) - tokens(chosen)
            self.tokens -= dropped - self.unsynced_tokens
            self.tokens |= tokens(chosen)
        elif field_name == "exists" and chosen is None:
            for value in losing:
                if isinstance(value, dict):
                    self.deleted(task_id, value["text"], value["status"], settling=True)

    def synced(self) -> None:
        self.unsynced_tokens.clear()
        self.unsynced_statuses.clear()


@dataclass(frozen=True)
class FileTask:
    index: int
    line: int
    indent: int
    end: int  # the last line of the task's block (itself and its sub-tasks), 1-based
    status: str
    text: str
    parent: int | None
    phase: tuple[int | None, str] | None


def file_tasks(plan: Plan, lines: list[str]) -> list[FileTask]:
    found = []
    for task in plan.tasks:
        end = task.line
        for later in plan.tasks[task.index + 1 :]:
            if later.indent <= task.indent:
                break
            end = later.line
        phase = plan.phases[task.phase] if task.phase is not None else None
        found.append(
            FileTask(
                task.index,
                task.line,
                len(lines[task.line - 1]) - len(lines[task.line - 1].lstrip(" ")),
                end,
                task.status,
                task.text,
                task.parent,
                (phase.number, phase.title) if phase is not None else None,
            )
        )
    return found
