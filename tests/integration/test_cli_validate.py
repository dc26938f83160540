"""The ``validate`` and ``parse`` commands as scripts use them: real files, the installed
console script, JSON that matches the published schemas, and the exit-code contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import pytest

from sync_engine.bootstrap import load_schema
from tests.conftest import ROOT, SAMPLE_PLANS


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_engine", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("sync-engine 0.")


def test_validate_sample_plans_json_matches_schema_and_contract() -> None:
    result = _run("validate", "sample_plans", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema_rs.validator_for(
        load_schema("validate-report.schema.json"),
        registry=jsonschema_rs.Registry(
            [("https://sync-engine.dev/schemas/plan.schema.json", load_schema("plan.schema.json"))]
        ),
    ).validate(data)
    paths = [entry["path"] for entry in data["files"]]
    assert len(paths) == len(list(SAMPLE_PLANS.glob("*.md"))) >= 6
    assert all(path.startswith("sample_plans/") for path in paths)
    assert sum(entry["tasks"] for entry in data["files"]) > 150
    wrong = next(e for e in data["files"] if e["path"].endswith("moteur-recherche.md"))
    assert "progress-mismatch" in {finding["code"] for finding in wrong["findings"]}
    assert wrong["score"] < 100


def test_validate_exit_1_on_error_finding(tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "ok.md").write_text("- [ ] fine\n", encoding="utf-8")
    (plans / "merge.md").write_text("- [ ] a\n<<<<<<< HEAD\n=======\n>>>>>>> b\n", "utf-8")
    result = _run("validate", str(plans), "--json")
    assert result.returncode == 1
    by_path = {entry["path"]: entry for entry in json.loads(result.stdout)["files"]}
    merge = by_path[str(plans / "merge.md")]
    assert merge["findings"][0] == {
        "code": "conflict-markers",
        "severity": "error",
        "line": 2,
        "message": merge["findings"][0]["message"],
        "hint": merge["findings"][0]["hint"],
    }
    assert merge["score"] == 80
    text = _run("validate", str(plans))
    assert text.returncode == 1
    assert f"{plans / 'merge.md'}:2: error [conflict-markers]" in text.stdout


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert _run("validate", str(tmp_path / "missing")).returncode == 2
    assert _run("validate").returncode == 2
    assert _run("frobnicate").returncode == 2
    (tmp_path / "sync-engine.toml").write_text("api_port = 'x'\n", encoding="utf-8")
    bad = _run("validate", ".", "--root", str(tmp_path))
    assert bad.returncode == 2
    assert "api_port" in bad.stderr


def test_parse_json_matches_the_plan_schema() -> None:
    plan = next(SAMPLE_PLANS.glob("roadmap-*.md"))
    result = _run("parse", str(plan), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema_rs.validator_for(load_schema("plan.schema.json")).validate(data)
    assert data["tasks"]
    assert all(task["line"] >= 1 for task in data["tasks"])
    assert data["progress"]["total"] == len(
        [t for t in data["tasks"] if t["status"] != "cancelled"]
    )


def test_console_script_is_installed() -> None:
    script = shutil.which("sync-engine", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the package is not installed in this interpreter's environment")
    assert subprocess.run([script, "--version"], capture_output=True, check=False).returncode == 0
