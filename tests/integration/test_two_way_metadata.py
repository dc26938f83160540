"""Plan and phase metadata written in the database (a plan's title, version and date, a
phase's title) reach the file, against the real embedded PostgreSQL and real files: only
the value changes on its line, and edits on both sides merge or wait for a person."""

from __future__ import annotations

from tests.integration.sample_root import PLAN, Root
from tests.integration.test_two_way_moves import assert_settled, edit_file, raw

AUTH = "plan-dev-v4-refonte-authentification.md"


def plan_row(root: Root, name: str = PLAN) -> tuple[str, str, str]:
    (row,) = root.sql(
        "SELECT title, version, date FROM plans WHERE path = %s AND deleted_at IS NULL", name
    )
    return row[0], row[1], row[2]


def set_plan(root: Root, sets: str, *params: object, name: str = PLAN) -> None:
    root.sql(f"UPDATE plans SET {sets} WHERE path = %s AND deleted_at IS NULL", *params, name)


def set_phase_title(root: Root, number: int, title: str, name: str = PLAN) -> None:
    root.sql(
        "UPDATE phases SET title = %s FROM plans p "
        "WHERE p.id = phases.plan_id AND p.path = %s AND p.deleted_at IS NULL "
        "AND phases.number = %s",
        title,
        name,
        number,
    )


def test_title_version_and_date_set_in_sql_change_only_their_values(root: Root) -> None:
    before = root.lines()
    data = raw(root)
    set_plan(root, "title = %s, version = %s, date = %s", "Passerelle API 🚀", "1.3", "2026-04-02")
    assert root.sql("SELECT table_name, op, origin FROM change_log") == [("plans", "UPDATE", "sql")]
    report = root.ok("sync")
    assert report["written_back"] == 1
    assert root.lines()[0] == "# Passerelle API 🚀"
    assert root.lines()[2] == "**Version 1.3 - 2026-04-02 - Progression: 52%**"
    expected = data.replace(before[0].encode(), "# Passerelle API 🚀".encode(), 1).replace(
        b"Version 1.2 - 2026-03-14", b"Version 1.3 - 2026-04-02", 1
    )
    assert raw(root) == expected
    assert plan_row(root) == ("Passerelle API 🚀", "1.3", "2026-04-02")
    assert_settled(root)


def test_a_phase_title_set_in_sql_rewrites_only_the_title_in_its_heading(root: Root) -> None:
    tasks = {t["id"]: t for t in root.ok("tasks", "list", "--plan", AUTH) if t["phase"] == 1}
    data = (root.path / AUTH).read_bytes()
    set_phase_title(root, 1, "Déploiement de Keycloak", AUTH)
    root.ok("sync")
    assert (root.path / AUTH).read_bytes() == data.replace(
        "## Phase 1: Mise en place de Keycloak ✅".encode(),
        "## Phase 1: Déploiement de Keycloak ✅".encode(),
    )
    after = {t["id"]: t for t in root.ok("tasks", "list", "--plan", AUTH) if t["phase"] == 1}
    assert after.keys() == tasks.keys()  # the same tasks, still in phase 1
    assert {t["phase_title"] for t in after.values()} == {"Déploiement de Keycloak"}
    assert_settled(root)


def test_a_title_changed_differently_on_both_sides_waits_for_a_person(root: Root) -> None:
    def retitle(lines: list[str]) -> None:
        lines[0] = "# Passerelle API (fichier)\n"

    edit_file(root, retitle)
    set_plan(root, "title = %s", "Passerelle API (base)")
    person = raw(root)
    report = root.ok("sync")
    assert report["conflicts_opened"] == 1
    assert raw(root) == person
    assert plan_row(root)[0] == "Passerelle API (base)"
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["type"], conflict["field"], conflict["task_id"]) == (
        "metadata_mismatch",
        "title",
        None,
    )
    assert (conflict["markdown"], conflict["database"]) == (
        "Passerelle API (fichier)",
        "Passerelle API (base)",
    )
    again = root.ok("sync")
    assert (again["conflicts_opened"], again["written_back"]) == (0, 0)
    assert plan_row(root)[0] == "Passerelle API (base)"

    root.ok("conflicts", "resolve", conflict["id"], "--take", "custom", "--value", "Passerelle")
    root.ok("sync")
    assert root.lines()[0] == "# Passerelle"
    assert plan_row(root)[0] == "Passerelle"
    assert_settled(root)


def test_a_phase_title_changed_on_both_sides_is_a_metadata_conflict(root: Root) -> None:
    at = root.lines().index("## Phase 3: Résilience et limitation de débit")

    def retitle(lines: list[str]) -> None:
        lines[at] = "## Phase 3: Résilience\n"

    edit_file(root, retitle)
    set_phase_title(root, 3, "Limitation de débit")
    root.ok("sync")
    (conflict,) = root.ok("conflicts", "list", "--status", "open")
    assert (conflict["type"], conflict["field"]) == ("metadata_mismatch", "phases[2].title")
    assert root.lines()[at] == "## Phase 3: Résilience"
    titles = {t["phase_title"] for t in root.ok("tasks", "list", "--plan", PLAN) if t["phase"] == 3}
    assert titles == {"Limitation de débit"}  # the database keeps its own
    again = root.ok("sync")
    assert (again["conflicts_opened"], again["written_back"], again["tasks_updated"]) == (0, 0, 0)
    root.ok("conflicts", "resolve", conflict["id"], "--take", "database")
    root.ok("sync")
    assert root.lines()[at] == "## Phase 3: Limitation de débit"
    assert_settled(root)


def test_the_same_edit_on_both_sides_and_edits_of_different_fields_merge(root: Root) -> None:
    def edit(lines: list[str]) -> None:
        lines[0] = "# Passerelle API\n"
        lines[2] = lines[2].replace("1.2", "1.5")

    edit_file(root, edit)
    set_plan(root, "title = %s, date = %s", "Passerelle API", "2026-05-01")
    report = root.ok("sync")
    assert report["conflicts_opened"] == 0
    assert root.lines()[0] == "# Passerelle API"
    assert root.lines()[2] == "**Version 1.5 - 2026-05-01 - Progression: 52%**"
    assert plan_row(root) == ("Passerelle API", "1.5", "2026-05-01")
    assert_settled(root)


def test_a_value_the_file_has_no_place_for_stays_in_the_database(root: Root) -> None:
    (root.path / "notes.md").write_text("# Notes\n\n- [ ] Relire\n- [ ] Publier\n", "utf-8")
    root.ok("sync")
    data = (root.path / "notes.md").read_bytes()
    set_plan(root, "version = %s", "3.0", name="notes.md")
    root.ok("sync")
    assert (root.path / "notes.md").read_bytes() == data
    assert plan_row(root, "notes.md") == ("Notes", "3.0", None)
    assert_settled(root)
    # A later edit of the file (synced files → database) does not take it away either.
    (root.path / "notes.md").write_text("# Notes\n\n- [x] Relire\n- [ ] Publier\n", "utf-8")
    assert root.ok("sync")["tasks_updated"] == 1
    assert plan_row(root, "notes.md") == ("Notes", "3.0", None)


def test_a_version_line_removed_from_the_file_leaves_the_database(root: Root) -> None:
    def drop(lines: list[str]) -> None:
        lines[2] = "**Progression: 52%**\n"

    edit_file(root, drop)
    root.ok("sync")
    assert plan_row(root) == ("Plan de développement v1 - API Gateway", None, None)
    assert_settled(root)


def test_the_engines_own_metadata_writes_are_not_recorded(root: Root) -> None:
    def retitle(lines: list[str]) -> None:
        lines[0] = "# Passerelle API v2\n"

    edit_file(root, retitle)
    root.ok("sync")
    assert plan_row(root)[0] == "Passerelle API v2"
    assert root.sql("SELECT count(*) FROM change_log") == [(0,)]
