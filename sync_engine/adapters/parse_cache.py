"""Parses of plan files kept in the state folder, so that a plan whose bytes did not change
since its last parse is not parsed again (a write-back of a database edit reads a file the
engine parsed when it last synced it: markdown-it-py's tokenisation was most of its cost).

One file a plan path under ``STATE/parses/``: the pickled parse, with the SHA-256 of the
bytes it was made from and the fingerprint of the parser that made it (the code of
``sync_engine.parsing`` and ``sync_engine.domain``, the versions of Python and of the
parsing libraries, the status table). Any mismatch, or any fault reading an entry, is a
miss; entries are written through a temp file and a rename, without fsync (losing one
costs a parse). The last few parses are also kept in memory.

The state folder is the engine's own (it holds the embedded server's data too): what is
unpickled there is what the engine wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import pickle
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from pathlib import Path

from sync_engine.domain.status import StatusTable
from sync_engine.parsing.parser import ParseResult

__all__ = ["LocalParseCache", "parser_fingerprint"]

_log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent.parent
# The code a parse depends on: sync_engine.parsing imports sync_engine.domain alone.
_PARSER_PACKAGES = ("parsing", "domain")
_PARSER_LIBRARIES = ("markdown-it-py", "mdit-py-plugins", "PyYAML")
_MEMORY_ENTRIES = 64
_SUFFIX = ".parse"


def parser_fingerprint(table: StatusTable) -> str:
    """What makes two parses of the same bytes equal: the parser's code, the libraries it
    uses, Python (and its pickle), and the status table."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    for library in _PARSER_LIBRARIES:
        try:
            version = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library}={version}\n".encode())
    for package in _PARSER_PACKAGES:
        for source in sorted((_PACKAGE / package).glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    digest.update(repr(sorted(table.states.items())).encode())
    digest.update(repr((sorted(table.closed), sorted(table.excluded))).encode())
    return digest.hexdigest()


class LocalParseCache:
    """``ParseCache`` in a folder (made on first write). Thread-safe; picklable (a copy
    keeps the folder and the fingerprint, not the entries held in memory, and writes in
    the caller's thread).

    ``background``: entries are written to disk by a thread of their own (``put`` returns
    once the entry is in memory; ``flush`` waits for the writes, and so does the end of
    the process)."""

    def __init__(
        self,
        folder: Path,
        fingerprint: str,
        memory: int = _MEMORY_ENTRIES,
        *,
        background: bool = False,
    ) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self._memory_size = memory
        self._memory: OrderedDict[str, tuple[str, ParseResult]] = OrderedDict()
        self._lock = threading.Lock()
        self._writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse-cache")
            if background
            else None
        )
        self._written: Future[None] | None = None

    def __reduce__(self) -> tuple[type[LocalParseCache], tuple[Path, str, int]]:
        return (type(self), (self.folder, self.fingerprint, self._memory_size))

    def flush(self) -> None:
        """Wait until every entry put is written (or given up)."""
        written = self._written
        if written is not None:
            wait_for([written])

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
        if self._writer is None:
            self._write(path, content_hash, parsed)
        else:
            # One thread writes, in order: the last put of a path is its entry.
            self._written = self._writer.submit(self._write, path, content_hash, parsed)

    def _write(self, path: str, content_hash: str, parsed: ParseResult) -> None:
        entry = (self.fingerprint, path, content_hash, parsed)
        target = self._entry(path)
        temp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            data = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
            self.folder.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(data)
            os.replace(temp, target)
        except Exception as error:  # a cache that cannot be written only misses
            _log.debug("parse cache: cannot keep the parse of %s: %s", path, error)
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)

    def _remember(self, path: str, content_hash: str, parsed: ParseResult) -> None:
        if self._memory_size <= 0:
            return
        with self._lock:
            self._memory[path] = (content_hash, parsed)
            self._memory.move_to_end(path)
            while len(self._memory) > self._memory_size:
                self._memory.popitem(last=False)

    def _read(self, path: str, content_hash: str) -> ParseResult | None:
        try:
            data = self._entry(path).read_bytes()
        except OSError:
            return None
        try:
            entry = pickle.loads(data)
        except Exception as error:  # torn, or written by another version: a miss
            _log.debug("parse cache: unreadable entry for %s: %s", path, error)
            return None
        if (
            isinstance(entry, tuple)
            and len(entry) == 4
            and entry[:3] == (self.fingerprint, path, content_hash)
            and isinstance(entry[3], ParseResult)
        ):
            return entry[3]
        return None

    def _entry(self, path: str) -> Path:
        name = hashlib.sha256(path.encode()).hexdigest()[:40]
        return self.folder / f"{name}{_SUFFIX}"
