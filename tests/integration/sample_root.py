"""A copy of the sample plans synced into a fresh database, driven through the command line
and plain SQL (the both-ways tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sync_engine.entrypoints.cli import main

PLAN = "plan-dev-v1-api-gateway.md"


class Root:
    def __init__(self, path: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.path = path
        self.url = url
        self._capsys = capsys

    def run(self, *args: str) -> tuple[int, Any]:
        self._capsys.readouterr()
        code = main([*args, "--root", str(self.path), "--database-url", self.url, "--json"])
        out = self._capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    def ok(self, *args: str) -> Any:
        code, data = self.run(*args)
        assert code == 0, data
        return data

    def lines(self, name: str = PLAN) -> list[str]:
        return (self.path / name).read_text("utf-8").splitlines()

    def task_at(self, line: int, name: str = PLAN) -> dict[str, Any]:
        tasks = self.ok("tasks", "list", "--plan", name)
        return next(task for task in tasks if task["line"] == line)

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []
