"""``PostgresPlanStore`` and the migrations against a real (embedded) PostgreSQL, one fresh
database per test. Change sets are built by hand: the records are plain dataclasses."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest

from sync_engine.adapters.postgres.migrations import available_migrations, migrate
from sync_engine.adapters.postgres.store import PostgresPlanStore, TaskView
from sync_engine.errors import NotFoundError, StoreError, StoreUnavailableError
from sync_engine.ports import PlanStore
from sync_engine.ports.records import (
    PhaseRow,
    PlanChange,
    PlanRow,
    SectionRow,
    SkippedPlan,
    StoredTask,
    SyncCounts,
    TaskRow,
)

ROOT_PATH = "/srv/plans"
TABLES = {
    "roots",
    "plans",
    "phases",
    "sections",
    "tasks",
    "plan_base",
    "pending_writes",
    "sync_operations",
    "change_log",
    "conflicts",
    "audit_log",
    "schema_migrations",
}


# -- building change sets -------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def task(
    position: int,
    text: str,
    *,
    task_id: str | None = None,
    status: str = "todo",
    parent: str | None = None,
    phase: int | None = 0,
    section: int | None = None,
    line: int | None = None,
    explicit_id: str | None = None,
) -> TaskRow:
    return TaskRow(
        id=task_id or new_id(),
        position=position,
        parent_id=parent,
        phase_position=phase,
        section_position=section,
        line=line if line is not None else 10 + position,
        end_line=line if line is not None else 10 + position,
        status=status,
        char={"todo": " ", "done": "x"}.get(status, "/"),
        text=text,
        title=text,
        label=f"{position + 1}.",
        explicit_id=explicit_id,
        depth=1 if parent else 0,
        fields={"due": "2026-01-01"} if position == 0 else {},
    )


def phases(*titles: str) -> list[PhaseRow]:
    return [
        PhaseRow(
            position=index,
            number=index + 1,
            title=title,
            heading=f"## Phase {index + 1}: {title}",
            level=2,
            line=5 + 100 * index,
            end_line=104 + 100 * index,
            declared_progress=None,
            computed_progress=0.0,
        )
        for index, title in enumerate(titles)
    ]


def plan_row(path: str, content_hash: str = "h1") -> PlanRow:
    return PlanRow(
        path=path,
        title=f"Plan {path}",
        version="1.0",
        date="2026-05-01",
        declared_progress=40.0,
        computed_progress=25.0,
        front_matter={"owner": "ana"},
        metadata={"status": "active"},
        content_hash=content_hash,
        git_blob=None,
        size=1234,
        mtime_ns=1_700_000_000_000_000_000,
        inode=42,
        score=90,
        findings=[{"rule": "progress-mismatch", "severity": "warning"}],
    )


def plan_change(
    path: str,
    tasks: Sequence[TaskRow],
    *,
    plan_id: str | None = None,
    created: Sequence[str] | None = None,
    updated: Sequence[str] = (),
    deleted: Sequence[str] = (),
    phase_titles: Sequence[str] = ("Setup", "Build"),
    content_hash: str = "h1",
) -> PlanChange:
    return PlanChange(
        plan_id=plan_id,
        plan=plan_row(path, content_hash),
        phases=phases(*phase_titles),
        sections=[SectionRow(0, 3, "Notes", 7, 20, None, 0)],
        tasks=list(tasks),
        created=list(created) if created is not None else [row.id for row in tasks],
        updated=list(updated),
        deleted=list(deleted),
        base_content=f"# {path}\n".encode(),
        base_model={"tasks": [row.id for row in tasks]},
    )


def moved(row: TaskRow, **changes: Any) -> TaskRow:
    return dataclasses.replace(row, **changes)


# -- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[PostgresPlanStore]:
    with PostgresPlanStore(database_url) as opened:
        yield opened


@pytest.fixture
def root_id(store: PostgresPlanStore) -> str:
    return store.ensure_root(ROOT_PATH).id


def fetch(url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query, params).fetchall()


def texts(tasks: Sequence[StoredTask] | Sequence[TaskView]) -> list[str]:
    return [row.text for row in tasks]


# -- migrations -----------------------------------------------------------------------------------


def test_migrate_from_empty_then_again_does_nothing(empty_database_url: str) -> None:
    names = [migration.name for migration in available_migrations()]
    assert names[0] == "0001_initial"
    assert migrate(empty_database_url) == names
    tables = fetch(
        empty_database_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    assert {name for (name,) in tables} == TABLES
    with psycopg.connect(empty_database_url) as connection:
        assert migrate(connection) == []
    assert migrate(empty_database_url) == []
    applied = fetch(empty_database_url, "SELECT version, name FROM schema_migrations")
    assert applied == [(migration.version, migration.name) for migration in available_migrations()]


def test_migrate_from_two_threads_applies_each_migration_once(empty_database_url: str) -> None:
    barrier = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(migrate(empty_database_url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Each migration is its own transaction: the two may share the work, never repeat it.
    assert sorted(name for names in results for name in names) == sorted(
        m.name for m in available_migrations()
    )
    assert fetch(empty_database_url, "SELECT count(*) FROM schema_migrations") == [
        (len(available_migrations()),)
    ]


def test_a_store_on_a_migrated_database_finds_nothing_to_do(database_url: str) -> None:
    with PostgresPlanStore(database_url) as store:
        store.ensure_root(ROOT_PATH)
    assert migrate(database_url) == []


def test_a_bad_url_is_store_unavailable_and_the_message_hides_the_password() -> None:
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2"
    store = PostgresPlanStore(url, connect_timeout=2)
    with pytest.raises(StoreUnavailableError) as raised:
        store.ensure_root(ROOT_PATH)
    message = str(raised.value)
    assert "postgresql://someone@127.0.0.1:1/nowhere" in message
    assert "s3cret-pw" not in message
    assert raised.value.transient
    store.close()


def test_the_store_implements_the_port(store: PostgresPlanStore) -> None:
    port: PlanStore = store
    assert port is store


# -- roots -----------------------------------------------------------------------------------------


def test_ensure_root_keeps_its_replica_id(store: PostgresPlanStore) -> None:
    first = store.ensure_root(ROOT_PATH)
    again = store.ensure_root(ROOT_PATH)
    other = store.ensure_root("/srv/other")
    assert again == first
    assert uuid.UUID(first.replica_id)
    assert first.last_sync_at is None
    assert other.id != first.id
    assert other.replica_id != first.replica_id


def test_set_root_synced_and_record_operation(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    store.set_root_synced(root_id, "abc123")
    root = store.ensure_root(ROOT_PATH)
    assert root.git_head == "abc123"
    assert root.last_sync_at is not None
    counts = SyncCounts(files_scanned=3, skipped=[SkippedPlan("a.md", "conflict markers")])
    store.record_operation(root_id, "files-to-db", "ok", counts, 0.25)
    rows = fetch(database_url, "SELECT kind, status, counts, duration_s FROM sync_operations")
    assert rows[0][:2] == ("files-to-db", "ok")
    assert rows[0][2]["files_scanned"] == 3
    assert rows[0][2]["skipped"] == [{"path": "a.md", "reason": "conflict markers"}]
    with pytest.raises(NotFoundError):
        store.set_root_synced(new_id(), None)


def test_lock_root_serialises_two_holders(store: PostgresPlanStore, root_id: str) -> None:
    events: list[str] = []
    held = threading.Event()

    def second() -> None:
        held.wait()
        with store.lock_root(root_id):
            events.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with store.lock_root(root_id):
        held.set()
        time.sleep(0.3)
        events.append("first")
    thread.join(timeout=10)
    assert events == ["first", "second"]


def test_calls_under_the_root_lock_use_its_connection(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    def store_sessions() -> int:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = 'sync-engine' AND datname = current_database()"
        )
        return int(fetch(database_url, query)[0][0])

    seen: list[object] = []
    other = threading.Thread(target=lambda: seen.append(store.plan_index(root_id)))
    with store.lock_root(root_id):
        store.plan_index(root_id)
        store.plans_needing_merge(root_id)
        store.set_root_synced(root_id, "abc")
        assert store_sessions() == 1  # the lock's: a sync opens no second connection
        other.start()  # another thread is served by the pool meanwhile
        other.join(timeout=10)
        assert seen == [{}]
    assert store.root(root_id).git_head == "abc"
    store.set_root_synced(root_id, None)  # the lock's connection is back in the pool, usable
    assert store.root(root_id).git_head is None


def test_a_failed_read_in_one_round_trip_leaves_the_connection_usable(
    store: PostgresPlanStore, root_id: str
) -> None:
    with store.lock_root(root_id):
        with pytest.raises(StoreError, match="uuid"):
            store.plan_sync_state("not-a-plan-id")
        assert store.plan_sync_state(new_id()).tasks == []  # rolled back, not left aborted
        store.set_root_synced(root_id, "def")
        with pytest.raises(NotFoundError):
            store.set_root_synced(new_id(), None)
    assert store.root(root_id).git_head == "def"


# -- writing and reading plans -------------------------------------------------------------------


def test_create_then_read_back(store: PostgresPlanStore, root_id: str, database_url: str) -> None:
    parent = task(0, "Install the tools", status="done")
    rows = [
        parent,
        task(1, "Python 3.11", parent=parent.id, section=0),
        task(2, "PostgreSQL", parent=parent.id),
        task(3, "Write the parser", phase=1, status="in_progress"),
        task(4, "Loose task", phase=None, explicit_id="loose"),
    ]
    plan_id = store.apply_plan_change(root_id, plan_change("docs/plan.md", rows))

    info = store.plan_index(root_id)["docs/plan.md"]
    assert (info.id, info.content_hash, info.size, info.inode) == (plan_id, "h1", 1234, 42)
    assert info.mtime_ns == 1_700_000_000_000_000_000
    assert info.task_count == 5
    assert info.skipped_reason is None

    stored = store.plan_tasks(plan_id)
    assert [row.id for row in stored] == [row.id for row in rows]
    assert stored[1].parent_id == parent.id
    assert stored[0].parent_id is None
    assert [row.phase_key for row in stored] == [
        (1, "Setup"),
        (1, "Setup"),
        (1, "Setup"),
        (2, "Build"),
        None,
    ]
    assert (stored[0].status, stored[0].char, stored[3].status) == ("done", "x", "in_progress")
    assert (stored[4].explicit_id, stored[2].label, stored[2].line) == ("loose", "3.", 12)

    base = fetch(database_url, "SELECT content, model, content_hash FROM plan_base")
    assert base == [(b"# docs/plan.md\n", {"tasks": [row.id for row in rows]}, "h1")]
    plan = fetch(database_url, "SELECT front_matter, findings, score FROM plans")[0]
    assert plan == ({"owner": "ana"}, [{"rule": "progress-mismatch", "severity": "warning"}], 90)
    first = fetch(
        database_url, "SELECT fields, section_id IS NULL FROM tasks WHERE id = %s", rows[0].id
    )
    assert first == [({"due": "2026-01-01"}, True)]


@pytest.mark.parametrize("batched", [True, False], ids=["batch", "one-plan"])
def test_copied_text_keeps_backslashes_tabs_and_line_breaks(
    store: PostgresPlanStore, root_id: str, database_url: str, batched: bool
) -> None:
    odd = "C:\\new\\table \\N\tcell\r\nline two \\\\ é 🚀"
    rows = [
        dataclasses.replace(task(0, odd), fields={"note": "a\\tb\n", "due": "2026-01-01"}),
        task(1, "\\N", phase=None),
    ]
    change = plan_change("odd.md", rows)
    if batched:
        store.apply_plan_changes(root_id, [change])
    else:
        store.apply_plan_change(root_id, change)
    stored = fetch(
        database_url,
        "SELECT text, title, label, fields, phase_id IS NULL FROM tasks ORDER BY position",
    )
    assert stored == [
        (odd, odd, "1.", {"note": "a\\tb\n", "due": "2026-01-01"}, False),
        ("\\N", "\\N", "2.", {}, True),
    ]


def test_update_with_moves_renames_and_an_insertion(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    a, b, c, d = (task(i, text) for i, text in enumerate(["A", "B", "C", "D"]))
    plan_id = store.apply_plan_change(root_id, plan_change("p.md", [a, b, c, d]))
    phase_ids = fetch(database_url, "SELECT position, id FROM phases ORDER BY position")

    # A new task on top shifts everything; B is renamed and ticked; D moves under A into
    # phase 2 ("Build", renamed "Build it"); C only shifts.
    new = task(0, "New first")
    after = [
        new,
        moved(a, position=1, line=11, label="2."),
        moved(
            b,
            position=2,
            line=12,
            text="B renamed",
            title="B renamed",
            status="done",
            char="x",
            fields={"due": "2026-02-02"},
        ),
        moved(d, position=3, line=13, parent_id=a.id, phase_position=1, depth=1),
        moved(c, position=4, line=14, label="5."),
    ]
    change = plan_change(
        "p.md",
        after,
        plan_id=plan_id,
        created=[new.id],
        updated=[b.id, d.id],
        phase_titles=("Setup", "Build it"),
        content_hash="h2",
    )
    assert store.apply_plan_change(root_id, change) == plan_id

    stored = store.plan_tasks(plan_id)
    assert texts(stored) == ["New first", "A", "B renamed", "D", "C"]
    assert [row.position for row in stored] == [0, 1, 2, 3, 4]
    assert [row.line for row in stored] == [10, 11, 12, 13, 14]
    assert (stored[2].status, stored[2].char) == ("done", "x")
    assert (stored[3].parent_id, stored[3].phase_key) == (a.id, (2, "Build it"))
    # Phases keep their ids by position; only rows that changed were written.
    assert fetch(database_url, "SELECT position, id FROM phases ORDER BY position") == phase_ids
    revisions = dict(fetch(database_url, "SELECT id::text, revision FROM tasks"))
    assert revisions[new.id] == 1
    assert revisions[b.id] == revisions[d.id] == revisions[c.id] == 2
    assert store.plan_index(root_id)["p.md"].content_hash == "h2"
    assert fetch(database_url, "SELECT fields FROM tasks WHERE id = %s", b.id) == [
        ({"due": "2026-02-02"},)
    ]

    # The same change again writes nothing.
    store.apply_plan_change(root_id, change)
    assert dict(fetch(database_url, "SELECT id::text, revision FROM tasks")) == revisions


def test_fewer_phases_drop_the_rest_and_tasks_follow(
    store: PostgresPlanStore, root_id: str
) -> None:
    rows = [task(0, "one"), task(1, "two", phase=1)]
    plan_id = store.apply_plan_change(root_id, plan_change("p.md", rows))
    after = [rows[0], moved(rows[1], phase_position=0)]
    change = plan_change("p.md", after, plan_id=plan_id, created=[], phase_titles=("Only",))
    store.apply_plan_change(root_id, change)
    assert [row.phase_key for row in store.plan_tasks(plan_id)] == [(1, "Only"), (1, "Only")]


def test_deleted_tasks_are_tombstoned_and_can_come_back(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    rows = [task(i, f"task {i}") for i in range(4)]
    plan_id = store.apply_plan_change(root_id, plan_change("p.md", rows))
    kept = [moved(rows[0]), moved(rows[3], position=1, line=11)]
    change = plan_change(
        "p.md", kept, plan_id=plan_id, created=[], deleted=[rows[1].id, rows[2].id]
    )
    store.apply_plan_change(root_id, change)

    assert texts(store.plan_tasks(plan_id)) == ["task 0", "task 3"]
    assert texts(store.list_tasks(root_id)) == ["task 0", "task 3"]
    assert store.plan_index(root_id)["p.md"].task_count == 2
    tombstones = fetch(
        database_url, "SELECT text FROM tasks WHERE deleted_at IS NOT NULL ORDER BY text"
    )
    assert tombstones == [("task 1",), ("task 2",)]
    with pytest.raises(NotFoundError):
        store.get_task(root_id, rows[1].id)

    # A "new" task whose id is a tombstone (an undo) is revived, not duplicated.
    back = [*kept, moved(rows[1], position=2, line=12, text="task 1 again")]
    store.apply_plan_change(
        root_id, plan_change("p.md", back, plan_id=plan_id, created=[rows[1].id])
    )
    assert texts(store.plan_tasks(plan_id)) == ["task 0", "task 3", "task 1 again"]
    assert fetch(database_url, "SELECT count(*) FROM tasks") == [(4,)]


def test_delete_plans_then_the_path_comes_back(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    gone_id = store.apply_plan_change(root_id, plan_change("gone.md", [task(0, "x"), task(1, "y")]))
    kept_id = store.apply_plan_change(root_id, plan_change("kept.md", [task(0, "z")]))
    assert store.delete_plans(root_id, [gone_id]) == 2
    assert store.delete_plans(root_id, [gone_id]) == 0
    assert store.delete_plans(root_id, []) == 0
    assert set(store.plan_index(root_id)) == {"kept.md"}
    assert texts(store.list_tasks(root_id)) == ["z"]
    assert fetch(
        database_url,
        "SELECT count(*) FROM tasks WHERE plan_id = %s AND deleted_at IS NOT NULL",
        gone_id,
    ) == [(2,)]
    # The file reappears: the tombstoned plan is revived under its old id.
    revived = store.apply_plan_change(root_id, plan_change("gone.md", [task(0, "x2")]))
    assert revived == gone_id != kept_id
    assert texts(store.plan_tasks(revived)) == ["x2"]


def test_apply_plan_change_is_all_or_nothing(store: PostgresPlanStore, root_id: str) -> None:
    rows = [task(0, "a"), task(1, "b")]
    plan_id = store.apply_plan_change(root_id, plan_change("p.md", rows))
    # The plan row is written before the bad id reaches the database: all of it is undone.
    broken = task(2, "c", task_id="not-a-uuid")
    bad = plan_change(
        "p.md", [*rows, broken], plan_id=plan_id, created=[broken.id], content_hash="h9"
    )
    with pytest.raises(StoreError):
        store.apply_plan_change(root_id, bad)
    assert store.plan_index(root_id)["p.md"].content_hash == "h1"
    assert texts(store.plan_tasks(plan_id)) == ["a", "b"]
    with pytest.raises(NotFoundError):
        store.apply_plan_change(root_id, plan_change("q.md", [], plan_id=new_id()))


def test_a_task_in_a_phase_the_change_lacks_is_refused(
    store: PostgresPlanStore, root_id: str
) -> None:
    change = plan_change("p.md", [task(0, "a", phase=7)])
    with pytest.raises(StoreError, match="phase 7"):
        store.apply_plan_change(root_id, change)
    assert store.plan_index(root_id) == {}


def test_engine_writes_are_marked_with_their_origin(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            """
            CREATE TABLE seen (origin text);
            CREATE FUNCTION note_origin() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO seen VALUES (current_setting('sync_engine.origin', true));
                RETURN NULL;
            END $$;
            CREATE TRIGGER note_origin AFTER INSERT OR UPDATE ON tasks
                FOR EACH STATEMENT EXECUTE FUNCTION note_origin();
            """
        )
    store.apply_plan_change(root_id, plan_change("p.md", [task(0, "a")]))
    with psycopg.connect(database_url) as connection:
        connection.execute("UPDATE tasks SET status = 'done'")
    assert fetch(database_url, "SELECT origin FROM seen") == [("engine",), (None,)]


def test_mark_skipped_and_refresh_stats(store: PostgresPlanStore, root_id: str) -> None:
    plan_id = store.apply_plan_change(root_id, plan_change("p.md", [task(0, "a")]))
    store.mark_skipped(root_id, "p.md", "holds conflict markers")
    store.mark_skipped(root_id, "new.md", "not UTF-8")  # never synced: a stub row
    index = store.plan_index(root_id)
    assert index["p.md"].skipped_reason == "holds conflict markers"
    assert texts(store.plan_tasks(plan_id)) == ["a"]  # rows are kept
    assert (index["new.md"].skipped_reason, index["new.md"].content_hash) == ("not UTF-8", "")
    assert store.summary(root_id).skipped == (
        SkippedPlan("new.md", "not UTF-8"),
        SkippedPlan("p.md", "holds conflict markers"),
    )
    store.mark_skipped(root_id, "p.md", None)
    store.mark_skipped(root_id, "never.md", None)
    assert store.plan_index(root_id)["p.md"].skipped_reason is None
    assert "never.md" not in store.plan_index(root_id)
    # A successful sync clears a skip.
    store.apply_plan_change(root_id, plan_change("new.md", [task(0, "b")]))
    assert store.plan_index(root_id)["new.md"].skipped_reason is None

    store.refresh_stats([(plan_id, 99, 5, 7)])
    refreshed = store.plan_index(root_id)["p.md"]
    assert (refreshed.size, refreshed.mtime_ns, refreshed.inode) == (99, 5, 7)
    store.refresh_stats([])


# -- what commands show ---------------------------------------------------------------------------


@pytest.fixture
def two_plans(store: PostgresPlanStore, root_id: str) -> dict[str, list[TaskRow]]:
    plans = {
        "b/second.md": [task(0, "b0", status="done"), task(1, "b1")],
        "a.md": [task(0, "a0"), task(1, "a1", status="done", phase=1), task(2, "a2", phase=None)],
    }
    for path, rows in plans.items():
        store.apply_plan_change(root_id, plan_change(path, rows))
    return plans


def test_list_tasks_filters_and_order(
    store: PostgresPlanStore, root_id: str, two_plans: dict[str, list[TaskRow]]
) -> None:
    everything = store.list_tasks(root_id)
    assert texts(everything) == ["a0", "a1", "a2", "b0", "b1"]
    assert everything[1] == TaskView(
        id=two_plans["a.md"][1].id,
        plan="a.md",
        phase=2,
        phase_title="Build",
        text="a1",
        status="done",
        line=11,
    )
    assert (everything[2].phase, everything[2].phase_title) == (None, None)
    assert texts(store.list_tasks(root_id, status="done")) == ["a1", "b0"]
    assert texts(store.list_tasks(root_id, plan_path="b/second.md")) == ["b0", "b1"]
    assert texts(store.list_tasks(root_id, "b/second.md", "todo")) == ["b1"]
    assert store.list_tasks(root_id, plan_path="missing.md") == []
    assert store.list_tasks(store.ensure_root("/elsewhere").id) == []


def test_get_task_by_id_prefix_and_explicit_id(
    store: PostgresPlanStore, root_id: str, two_plans: dict[str, list[TaskRow]]
) -> None:
    target = two_plans["a.md"][0]
    assert store.get_task(root_id, target.id).text == "a0"
    assert store.get_task(root_id, target.id[:13].upper()).id == target.id
    assert store.get_task(root_id, target.id.replace("-", "")[:20]).id == target.id
    other_root = store.ensure_root("/elsewhere").id
    with pytest.raises(NotFoundError, match="no task"):
        store.get_task(other_root, target.id)
    with pytest.raises(NotFoundError, match="no task"):
        store.get_task(root_id, "ffffffff-0000")
    with pytest.raises(NotFoundError, match="no task"):
        store.get_task(root_id, "not an id%")
    with pytest.raises(NotFoundError):
        store.get_task(root_id, "  ")


def test_get_task_says_which_tasks_share_a_prefix(store: PostgresPlanStore, root_id: str) -> None:
    twins = [
        task(0, "one", task_id="abcdef01-0000-4000-8000-000000000001"),
        task(1, "two", task_id="abcdef01-0000-4000-8000-000000000002", explicit_id="t2"),
    ]
    store.apply_plan_change(root_id, plan_change("p.md", twins))
    with pytest.raises(NotFoundError, match="ambiguous") as raised:
        store.get_task(root_id, "abcdef")
    assert twins[0].id in str(raised.value)
    assert twins[1].id in str(raised.value)
    assert "p.md:10" in str(raised.value)
    assert store.get_task(root_id, "abcdef01-0000-4000-8000-000000000002").text == "two"
    assert store.get_task(root_id, "t2").text == "two"


def test_summary(
    store: PostgresPlanStore, root_id: str, two_plans: dict[str, list[TaskRow]]
) -> None:
    summary = store.summary(root_id)
    assert (summary.plans, summary.tasks) == (2, 5)
    assert summary.tasks_by_status == {"done": 2, "todo": 3}
    assert summary.skipped == ()
    assert summary.last_sync_at is None
    store.set_root_synced(root_id, None)
    assert store.summary(root_id).last_sync_at is not None


# -- bulk ------------------------------------------------------------------------------------------


def many_tasks(count: int, phases_count: int = 10) -> list[TaskRow]:
    rows: list[TaskRow] = []
    parent: str | None = None
    for position in range(count):
        row = task(
            position,
            f"Task number {position} of a long plan, with some words",
            parent=parent if position % 5 else None,
            phase=position * phases_count // count,
            status="done" if position % 3 == 0 else "todo",
        )
        if position % 5 == 0:
            parent = row.id
        rows.append(row)
    return rows


def test_bulk_insert_of_20k_tasks_in_one_change(store: PostgresPlanStore, root_id: str) -> None:
    rows = many_tasks(20_000)
    titles = tuple(f"Phase {n}" for n in range(10))
    change = plan_change("big.md", rows, phase_titles=titles)
    plan_id = store.apply_plan_change(root_id, change)
    stored = store.plan_tasks(plan_id)
    assert len(stored) == 20_000
    assert stored[-1].phase_key == (10, "Phase 9")
    assert stored[6].parent_id == rows[5].id

    # Renumbering every task (one inserted on top) is an update of positions only.
    shifted = [moved(row, position=row.position + 1, line=row.line + 1) for row in rows]
    top = task(0, "on top")
    again = plan_change(
        "big.md", [top, *shifted], plan_id=plan_id, created=[top.id], phase_titles=titles
    )
    store.apply_plan_change(root_id, again)
    assert store.plan_tasks(plan_id)[1].position == 1


@pytest.mark.slow
def test_cold_sync_of_1000_plans_in_batches(store: PostgresPlanStore, root_id: str) -> None:
    changes = [
        plan_change(f"plans/p{n:04d}.md", many_tasks(88, 4), phase_titles=("A", "B", "C", "D"))
        for n in range(1000)
    ]
    plan_ids = []
    for start in range(0, len(changes), 250):
        plan_ids += store.apply_plan_changes(root_id, changes[start : start + 250])
    summary = store.summary(root_id)
    assert (summary.plans, summary.tasks) == (1000, 88_000)
    index = store.plan_index(root_id)
    assert [index[change.plan.path].id for change in changes] == plan_ids
    stored = store.plan_tasks(plan_ids[-1])
    assert [row.id for row in stored] == [row.id for row in changes[-1].tasks]
    assert stored[-1].phase_key == (4, "D")


def test_a_batch_writes_new_revived_skipped_and_updated_plans_like_one_by_one(
    store: PostgresPlanStore, root_id: str, database_url: str
) -> None:
    kept = [task(0, "k0"), task(1, "k1")]
    kept_id = store.apply_plan_change(root_id, plan_change("kept.md", kept))
    gone_id = store.apply_plan_change(root_id, plan_change("gone.md", [task(0, "g")]))
    store.delete_plans(root_id, [gone_id])
    store.mark_skipped(root_id, "stub.md", "not UTF-8")
    parent = task(0, "n0", section=0)
    fresh_rows = [parent, task(1, "n1", parent=parent.id, phase=1)]
    batch = [
        plan_change("fresh.md", fresh_rows),
        plan_change(
            "kept.md",
            [moved(kept[0], status="done"), kept[1]],
            plan_id=kept_id,
            created=[],
            updated=[kept[0].id],
            content_hash="h2",
        ),
        plan_change("gone.md", [task(0, "g2")]),  # revives the tombstoned plan
        plan_change("stub.md", [task(0, "s")]),  # takes over the skipped stub
        plan_change("other.md", [task(0, "o", phase=None)], phase_titles=()),
    ]
    ids = store.apply_plan_changes(root_id, batch)

    index = store.plan_index(root_id)
    assert ids == [index[change.plan.path].id for change in batch]
    assert ids[1:3] == [kept_id, gone_id]
    assert index["stub.md"].skipped_reason is None
    assert index["kept.md"].content_hash == "h2"
    assert [row.status for row in store.plan_tasks(kept_id)] == ["done", "todo"]
    fresh = store.plan_tasks(ids[0])
    assert [(row.id, row.parent_id) for row in fresh] == [
        (parent.id, None),
        (fresh_rows[1].id, parent.id),
    ]
    assert [row.phase_key for row in fresh] == [(1, "Setup"), (2, "Build")]
    assert texts(store.plan_tasks(gone_id)) == ["g2"]
    assert store.plan_tasks(ids[4])[0].phase_key is None
    rows = fetch(
        database_url,
        "SELECT p.path, b.content, b.model, s.title, t.section_id = s.id "
        "FROM plans p JOIN plan_base b ON b.plan_id = p.id "
        "JOIN sections s ON s.plan_id = p.id JOIN tasks t ON t.id = %s",
        parent.id,
    )
    fresh_row = next(row for row in rows if row[0] == "fresh.md")
    assert fresh_row[1:] == (b"# fresh.md\n", {"tasks": [r.id for r in fresh_rows]}, "Notes", True)
    assert store.apply_plan_changes(root_id, []) == []


def test_a_batch_is_all_or_nothing(store: PostgresPlanStore, root_id: str) -> None:
    broken = task(0, "bad", task_id="not-a-uuid")
    batch = [plan_change("a.md", [task(0, "a")]), plan_change("b.md", [broken])]
    with pytest.raises(StoreError):
        store.apply_plan_changes(root_id, batch)
    assert store.plan_index(root_id) == {}
