"""Parses of plan files kept in the state folder, so that a plan whose bytes did not change
since its last parse is not parsed again (a write-back of a database edit reads a file the
engine parsed when it last synced it: markdown-it-py's tokenisation was most of its cost).

One SQLite file (``STATE/parses.sqlite3``), a row a plan path: the pickled parse, the
SHA-256 of the bytes it was made from and the fingerprint of the parser that made it (the
code of ``sync_engine.parsing`` and ``sync_engine.domain``, the versions of Python and of
the parsing libraries, the status table). Any mismatch, or any fault reading a row, is a
miss. Rows are written a few at a time, without waiting for the disk (a cold sync keeps a
thousand parses for a few hundred milliseconds); losing some costs parses, nothing else. A
file SQLite cannot read is made anew. The last few parses are also kept in memory.

The state folder is the engine's own (it holds the embedded server's data too): what is
unpickled there is what the engine wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import pickle
import sqlite3
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from pathlib import Path

import markdown_it
import mdit_py_plugins
import yaml

from sync_engine.domain.status import StatusTable
from sync_engine.parsing.parser import ParseResult

__all__ = ["LocalParseCache", "parser_fingerprint"]

_log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent.parent
# The code a parse depends on: sync_engine.parsing imports sync_engine.domain alone.
_PARSER_PACKAGES = ("parsing", "domain")
_MEMORY_ENTRIES = 64
# Rows written in one transaction (a caller writing in its own thread: a worker's batch).
_BATCH = 16
_SCHEMA = """
CREATE TABLE IF NOT EXISTS parses (
    path text PRIMARY KEY,
    fingerprint text NOT NULL,
    content_hash text NOT NULL,
    entry blob NOT NULL
)
"""
_READ = "SELECT entry FROM parses WHERE path = ? AND fingerprint = ? AND content_hash = ?"
_WRITE = "INSERT OR REPLACE INTO parses VALUES (?, ?, ?, ?)"  # the columns' order


def parser_fingerprint(table: StatusTable) -> str:
    """What makes two parses of the same bytes equal: the parser's code, the libraries it
    uses, Python (and its pickle), and the status table."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    # The modules' own versions: imported already, unlike the packages' metadata (whose
    # lookup scans the installed distributions, tens of milliseconds a process).
    for library in (markdown_it, mdit_py_plugins, yaml):
        digest.update(f"{library.__name__}={getattr(library, '__version__', '-')}\n".encode())
    for package in _PARSER_PACKAGES:
        for source in sorted((_PACKAGE / package).glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    digest.update(repr(sorted(table.states.items())).encode())
    digest.update(repr((sorted(table.closed), sorted(table.excluded))).encode())
    return digest.hexdigest()


class LocalParseCache:
    """``ParseCache`` in a SQLite file (made, with its folder, on first use). Thread-safe
    (a connection a thread); picklable (a copy keeps the file and the fingerprint, not the
    parses held in memory or waiting to be written).

    Parses put are held in memory at once and written ``_BATCH`` at a time, and by
    ``flush``; ``background``: written by a thread of their own instead, as they come
    (``flush`` waits for it, and so does the end of the process)."""

    def __init__(
        self,
        file: Path,
        fingerprint: str,
        memory: int = _MEMORY_ENTRIES,
        *,
        background: bool = False,
    ) -> None:
        self.file = file
        self.fingerprint = fingerprint
        self._memory_size = memory
        self._memory: OrderedDict[str, tuple[str, ParseResult]] = OrderedDict()
        self._unwritten: list[tuple[str, str, ParseResult]] = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self._writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse-cache")
            if background
            else None
        )
        self._written: Future[None] | None = None

    def __reduce__(self) -> tuple[type[LocalParseCache], tuple[Path, str, int]]:
        return (type(self), (self.file, self.fingerprint, self._memory_size))

    def get(self, path: str, content_hash: str) -> ParseResult | None:
        with self._lock:
            held = self._memory.get(path)
            if held is not None and held[0] == content_hash:
                self._memory.move_to_end(path)
                return held[1]
        parsed = self._read(path, content_hash)
        if parsed is not None:
            self._remember(path, content_hash, parsed)
        return parsed

    def put(self, path: str, content_hash: str, parsed: ParseResult) -> None:
        self._remember(path, content_hash, parsed)
        with self._lock:
            self._unwritten.append((path, content_hash, parsed))
            due = len(self._unwritten) >= _BATCH
        if self._writer is not None:
            # One thread writes, in order: the last put of a path is its row.
            self._written = self._writer.submit(self._write_unwritten)
        elif due:
            self._write_unwritten()

    def flush(self) -> None:
        """Write the parses put and not written yet (waiting for the writer thread)."""
        written = self._written
        if written is not None:
            wait_for([written])
        self._write_unwritten()

    def _remember(self, path: str, content_hash: str, parsed: ParseResult) -> None:
        if self._memory_size <= 0:
            return
        with self._lock:
            self._memory[path] = (content_hash, parsed)
            self._memory.move_to_end(path)
            while len(self._memory) > self._memory_size:
                self._memory.popitem(last=False)

    def _write_unwritten(self) -> None:
        with self._lock:
            rows, self._unwritten = self._unwritten, []
        if not rows:
            return
        try:
            values = [
                (path, self.fingerprint, content_hash, pickle.dumps(parsed, protocol=5))
                for path, content_hash, parsed in rows
            ]
            connection = self._connection()
            with connection:  # one transaction
                connection.executemany(_WRITE, values)
        except Exception as error:  # a cache that cannot be written only misses
            _log.debug("parse cache: %d parses not kept: %s", len(rows), error)

    def _read(self, path: str, content_hash: str) -> ParseResult | None:
        try:
            row = self._connection().execute(_READ, (path, self.fingerprint, content_hash))
            found = row.fetchone()
            entry = pickle.loads(found[0]) if found is not None else None
        except Exception as error:  # unreadable, or written by another version: a miss
            _log.debug("parse cache: no parse of %s: %s", path, error)
            return None
        return entry if isinstance(entry, ParseResult) else None

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = self._open()
            except sqlite3.DatabaseError:  # not a database (damaged): made anew
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.file}{suffix}").unlink(missing_ok=True)
                connection = self._open()
            self._local.connection = connection
        return connection

    def _open(self) -> sqlite3.Connection:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.file, timeout=5.0)
        try:
            # Readers and one writer at once (worker processes, the engine); no wait for the
            # disk: a row lost in a crash is a parse to make again.
            with contextlib.suppress(sqlite3.OperationalError):
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute(_SCHEMA)
        except BaseException:
            connection.close()
            raise
        return connection
