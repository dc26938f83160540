"""``sync``, ``tasks``, ``status`` and ``db`` against the real embedded PostgreSQL and real
files, through the command line as scripts use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS, ROOT, SAMPLE_PLANS


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_engine", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _json(*args: str) -> Any:
    result = _cli(*args, "--json")
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def plans(tmp_path: Path, database_url: str) -> tuple[Path, list[str]]:
    root = tmp_path / "plans"
    shutil.copytree(SAMPLE_PLANS, root)
    return root, ["--root", str(root), "--database-url", database_url]


def test_sync_then_noop_then_one_edit(plans: tuple[Path, list[str]]) -> None:
    root, common = plans
    first = _json("sync", "--no-index", *common)
    assert first["files_scanned"] == first["files_changed"] == 8
    assert first["tasks_created"] == 246
    assert set(first) >= {
        "files_scanned",
        "files_changed",
        "tasks_created",
        "tasks_updated",
        "tasks_deleted",
        "conflicts_opened",
        "written_back",
        "duration_s",
    }
    again = _json("sync", "--no-index", *common)
    assert (again["files_changed"], again["tasks_created"], again["tasks_updated"]) == (0, 0, 0)
    plan = root / "roadmap-mobile-app.md"
    plan.write_text(plan.read_text("utf-8").replace("- [ ]", "- [x]", 1), encoding="utf-8")
    edited = _json("sync", "--no-index", *common)
    assert (edited["files_changed"], edited["tasks_updated"]) == (1, 1)


def test_tasks_list_show_and_status(plans: tuple[Path, list[str]]) -> None:
    _, common = plans
    _json("sync", "--no-index", *common)
    tasks = _json("tasks", "list", *common)
    assert len(tasks) == 246
    assert set(tasks[0]) == {"id", "plan", "phase", "phase_title", "text", "status", "line"}
    done = _json("tasks", "list", "--status", "done", *common)
    assert done
    assert all(task["status"] == "done" for task in done)
    one_plan = _json("tasks", "list", "--plan", "roadmap-mobile-app.md", *common)
    assert len(one_plan) == 27
    shown = _json("tasks", "show", tasks[0]["id"][:8], *common)
    assert shown == tasks[0]
    missing = _cli("tasks", "show", "ffffffff-0000", *common)
    assert missing.returncode == 1
    status = _json("status", *common)
    assert (status["plans"], status["tasks"]) == (8, 246)
    assert status["last_sync"]


def test_dry_run_changes_nothing(plans: tuple[Path, list[str]]) -> None:
    _, common = plans
    dry = _json("sync", "--no-index", "--dry-run", *common)
    assert dry["tasks_created"] == 246
    assert _json("status", *common)["tasks"] == 0


def test_skipped_plan_and_mass_deletion_exit_1(plans: tuple[Path, list[str]]) -> None:
    root, common = plans
    _json("sync", "--no-index", *common)
    broken = root / "plan-dev-v1-api-gateway.md"
    broken.write_text(broken.read_text("utf-8") + "<<<<<<< HEAD\n=======\n>>>>>>> b\n", "utf-8")
    result = _cli("sync", "--no-index", "--json", *common)
    assert result.returncode == 1
    assert json.loads(result.stdout)["skipped"][0]["path"] == "plan-dev-v1-api-gateway.md"
    for path in list(root.glob("plan-dev-v*.md"))[:6]:
        path.unlink()
    refused = _cli("sync", "--no-index", "--json", *common)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["refused"]
    assert _json("status", *common)["plans"] == 8
    allowed = _json("sync", "--no-index", "--allow-mass-delete", *common)
    assert allowed["plans_deleted"] == 6


def test_two_concurrent_syncs_on_one_root(plans: tuple[Path, list[str]]) -> None:
    _, common = plans
    results: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(_cli("sync", "--no-index", "--json", *common))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0]
    created = sorted(json.loads(r.stdout)["tasks_created"] for r in results)
    assert created == [0, 246]
    assert _json("status", *common)["tasks"] == 246


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = _cli(
        "status",
        "--root",
        str(tmp_path),
        "--database-url",
        "postgresql://nobody:secret@127.0.0.1:1/none",
    )
    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr
    assert "secret" not in result.stderr


@pytest.mark.corpus
def test_corpus_sync_then_second_sync_changes_nothing(tmp_path: Path, database_url: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the real-plan corpus is not here ({CORPUS})")
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    common = ["--root", str(root), "--database-url", database_url]
    first = _json("sync", "--no-index", *common)
    assert first["tasks_created"] > 25_000
    second = _json("sync", "--no-index", *common)
    assert (
        second["files_changed"],
        second["tasks_created"],
        second["tasks_updated"],
        second["tasks_deleted"],
    ) == (0, 0, 0, 0)


def test_a_bad_conflicts_rule_is_bad_usage_naming_the_file(plans: tuple[Path, list[str]]) -> None:
    root, common = plans
    rules = root / "team-rules"
    rules.mkdir()
    (rules / "conflicts.yaml").write_text("strategies:\n  status_divergence: coin-toss\n")
    (root / "sync-engine.toml").write_text('rules_dir = "team-rules"\n')
    result = _cli("sync", "--no-index", *common)
    assert result.returncode == 2, result.stderr
    assert "conflicts.yaml" in result.stderr
    assert "coin-toss" in result.stderr
    assert "Traceback" not in result.stderr
