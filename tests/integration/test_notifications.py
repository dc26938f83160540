"""The database announces edits made outside the engine (``NOTIFY sync_engine_changes``, the
plan id), and ``DatabaseChangeListener`` hears them: real triggers, real server."""

from __future__ import annotations

import time

import pytest

from sync_engine.adapters.postgres.notifications import DatabaseChangeListener
from sync_engine.errors import StoreUnavailableError
from tests.integration.sample_root import PLAN, Root

OTHER = "roadmap-mobile-app.md"


def plan_id(root: Root, name: str) -> str:
    return str(root.sql("SELECT id FROM plans WHERE path = %s", name)[0][0])


def first_todo(root: Root, name: str) -> str:
    tasks = root.ok("tasks", "list", "--plan", name)
    return str(next(task["id"] for task in tasks if task["status"] == "todo"))


def test_sql_and_command_line_edits_announce_their_plans(root: Root) -> None:
    with DatabaseChangeListener(root.url) as listener:
        assert listener.wait(0.05) == set()
        root.sql("UPDATE tasks SET status = 'done' WHERE id = %s", first_todo(root, PLAN))
        root.ok("tasks", "update", first_todo(root, OTHER), "--status", "done")
        heard = listener.wait(5)
        deadline = time.monotonic() + 5
        while len(heard) < 2 and time.monotonic() < deadline:
            heard |= listener.wait(0.5)
        assert heard == {plan_id(root, PLAN), plan_id(root, OTHER)}
        assert listener.wait(0.05) == set()  # each announcement is taken once


def test_the_engines_own_writes_announce_nothing(root: Root) -> None:
    root.sql("UPDATE tasks SET status = 'done' WHERE id = %s", first_todo(root, PLAN))
    with DatabaseChangeListener(root.url) as listener:
        assert root.ok("sync")["written_back"] == 1  # the write-back's own database writes
        with (root.path / OTHER).open("a", encoding="utf-8") as file:
            file.write("\n- [ ] Ajoutée dans le fichier\n")
        assert root.ok("sync")["tasks_created"] == 1
        assert listener.wait(0.3) == set()


def test_one_transaction_announces_its_plan_once(root: Root) -> None:
    tasks = [task["id"] for task in root.ok("tasks", "list", "--plan", PLAN)[:3]]
    with DatabaseChangeListener(root.url) as listener:
        root.sql("UPDATE tasks SET text = text || ' (revu)' WHERE id = ANY(%s::uuid[])", tasks)
        assert listener.wait(5) == {plan_id(root, PLAN)}


def test_an_unreachable_server_is_store_unavailable() -> None:
    listener = DatabaseChangeListener(
        "postgresql://nobody:secret@127.0.0.1:1/none", connect_timeout=1
    )
    with pytest.raises(StoreUnavailableError) as caught:
        listener.open()
    assert "secret" not in str(caught.value)
