"""The embedded PostgreSQL lifecycle against a real server (no mocks); each test stops its own."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import PIPE

import psutil  # type: ignore[import-untyped]
import psycopg
import pytest

from sync_engine.adapters.postgres.embedded import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    EmbeddedStatus,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    yield state
    EmbeddedPostgres(state).stop()
    shutil.rmtree(state / "pg", ignore_errors=True)  # ~45 MB each; pg.log stays for debugging


def select_one(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition()`` held; fails the test after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def live_processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, name, command line) of every process that is not a zombie."""
    for process in psutil.process_iter(["name", "cmdline", "status"]):
        if process.info["status"] != psutil.STATUS_ZOMBIE:
            yield process.pid, process.info["name"], process.info["cmdline"] or []


def postmasters(data_dir: Path) -> list[int]:
    return [
        pid
        for pid, name, command in live_processes()
        if name == "postgres" and str(data_dir) in command
    ]


def watchdogs(data_dir: Path) -> list[int]:
    return [
        pid
        for pid, _name, command in live_processes()
        if "--idle-watch" in command and str(data_dir) in command
    ]


def test_start_connect_status_stop(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    assert pg.status().running is False

    url = pg.ensure_running()
    assert select_one(url) == 1
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT current_database(), inet_server_addr()::text").fetchone()
    assert row == ("sync_engine", "127.0.0.1/32")

    status = pg.status()
    assert isinstance(status, EmbeddedStatus)
    assert status.running is True
    assert status.url == url
    assert status.pid in postmasters(pg.data_dir)
    assert status.port is not None
    assert f":{status.port}/" in url
    assert status.data_dir == state_dir.resolve() / "pg"
    assert status.log_file.is_file()
    assert status.version.startswith("18.")
    assert len(watchdogs(pg.data_dir)) == 1

    started = time.monotonic()
    assert pg.ensure_running() == url
    assert time.monotonic() - started < 0.5

    assert pg.stop() is True
    assert pg.status().running is False
    assert pg.status().url is None
    assert postmasters(pg.data_dir) == []
    wait_until(lambda: watchdogs(pg.data_dir) == [], timeout=5)
    assert pg.stop() is False


def test_password_is_required(state_dir: Path) -> None:
    url = EmbeddedPostgres(state_dir).ensure_running()
    without_password = url.replace(url.split("@")[0].split(":")[-1] + "@", "@")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(without_password, connect_timeout=5)


def test_recovers_after_the_postmaster_was_killed(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    pg.ensure_running()
    old_pid = pg.status().pid
    assert old_pid is not None

    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: not alive(old_pid), timeout=10)
    assert (pg.data_dir / "postmaster.pid").exists()  # stale
    assert pg.status().running is False

    url = pg.ensure_running()
    assert select_one(url) == 1
    assert pg.status().pid not in (None, old_pid)


def test_recovers_when_the_stale_pid_now_belongs_to_another_process(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    pg.ensure_running()
    old_pid = pg.status().pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: not alive(old_pid), timeout=10)

    # A live process of the server's own OS user now holds that pid: PostgreSQL itself would
    # refuse to start ("lock file already exists").
    owner = pg.data_dir.stat().st_uid if os.geteuid() == 0 else None
    with subprocess.Popen(["sleep", "60"], user=owner) as impostor:
        try:
            pid_file = pg.data_dir / "postmaster.pid"
            lines = pid_file.read_text().splitlines()
            pid_file.write_text("\n".join([str(impostor.pid), *lines[1:]]) + "\n")
            assert pg.status().running is False

            assert select_one(pg.ensure_running()) == 1
            assert impostor.poll() is None  # left alone
        finally:
            impostor.kill()


ENSURE_IN_ANOTHER_PROCESS = """
import sys, time
from pathlib import Path
from sync_engine.adapters.postgres.embedded import EmbeddedPostgres
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(EmbeddedPostgres(Path(sys.argv[1])).ensure_running())
"""


def test_concurrent_processes_share_one_server(state_dir: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    start_at = str(time.time() + 1.5)  # all call ensure_running at the same moment
    command = [sys.executable, "-W", "error", "-c", ENSURE_IN_ANOTHER_PROCESS, str(state_dir)]
    processes = [
        subprocess.Popen([*command, start_at], env=environment, text=True, stdout=PIPE, stderr=PIPE)
        for _ in range(3)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], results

    urls = {stdout.strip() for stdout, _stderr in results}
    assert len(urls) == 1
    url = urls.pop()
    # the callers have exited; the server has not
    assert select_one(url) == 1
    pg = EmbeddedPostgres(state_dir)
    assert pg.status().running is True
    assert postmasters(pg.data_dir) == [pg.status().pid]
    assert len(watchdogs(pg.data_dir)) == 1


def test_stops_by_itself_when_idle(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir, idle_seconds=2)
    url = pg.ensure_running()
    assert select_one(url) == 1
    last_use = time.monotonic()

    wait_until(lambda: not pg.status().running, timeout=20)
    assert time.monotonic() - last_use >= 2
    wait_until(lambda: watchdogs(pg.data_dir) == [], timeout=10)
    assert postmasters(pg.data_dir) == []
    assert "stopped the server after 2 s idle" in pg.log_file.read_text()

    assert select_one(pg.ensure_running()) == 1  # and starts again on demand


@pytest.mark.slow
def test_an_open_connection_keeps_it_running(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir, idle_seconds=2)
    with psycopg.connect(pg.ensure_running()) as connection:
        time.sleep(5)
        assert pg.status().running is True
        connection.execute("SELECT 1")
    wait_until(lambda: not pg.status().running, timeout=20)


def test_moves_to_a_new_port_when_its_port_was_taken(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    pg.ensure_running()
    old_port = pg.status().port
    assert old_port is not None
    pg.stop()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        url = pg.ensure_running()
        assert select_one(url) == 1
        new_port = pg.status().port
        assert new_port not in (None, old_port)
        pg.stop()

    assert pg.status().port == new_port  # recorded: kept once the old port is free again
    assert pg.ensure_running() == url


def test_refuses_a_data_dir_that_is_not_postgres(state_dir: Path) -> None:
    (state_dir / "pg").mkdir(parents=True)
    (state_dir / "pg" / "notes.txt").write_text("mine")
    with pytest.raises(EmbeddedPostgresError, match=str(state_dir.resolve() / "pg")):
        EmbeddedPostgres(state_dir).ensure_running()
    assert (state_dir / "pg" / "notes.txt").read_text() == "mine"


def test_refuses_a_cluster_of_another_major_version(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    pg.ensure_running()
    pg.stop()
    (pg.data_dir / "PG_VERSION").write_text("17\n")
    with pytest.raises(EmbeddedPostgresError, match="made by PostgreSQL 17"):
        pg.ensure_running()
    assert pg.status().running is False


def test_stop_and_status_of_a_new_folder_create_nothing(state_dir: Path) -> None:
    pg = EmbeddedPostgres(state_dir)
    assert pg.stop() is False
    status = pg.status()
    assert (status.running, status.pid, status.port, status.url) == (False, None, None, None)
    assert not state_dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another OS user")
def test_survives_parents_losing_the_server_users_way_in(state_dir: Path) -> None:
    # pytest itself resets /tmp/pytest-of-root to 0700 whenever a session starts
    pg = EmbeddedPostgres(state_dir)
    url = pg.ensure_running()
    state_dir.parent.chmod(0o700)
    assert select_one(url) == 1  # a running server works inside its data dir
    state_dir.parent.chmod(0o700)
    assert pg.stop() is True
    state_dir.parent.chmod(0o700)
    assert select_one(pg.ensure_running()) == 1
