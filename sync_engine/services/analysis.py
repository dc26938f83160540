"""Parsing and validating plan files, on every core when there are many.

A cold sync parses every plan of the root; markdown-it-py is pure Python, so one process
would use one core while the others (and the database server) wait. ``PlanAnalyser`` parses
a few files in the calling process and hands a long list to worker processes, yielding the
results in order as they come so that the caller writes to the store while the workers go
on parsing.

Workers are started with ``forkserver`` (never a bare ``fork`` of a process that holds a
connection pool and its threads) and build their own validator from a picklable factory.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from sync_engine.domain.status import StatusTable
from sync_engine.parsing.parser import ParseResult, parse_plan
from sync_engine.ports import ParseCache
from sync_engine.validation.validator import PlanValidator, ValidationReport

__all__ = ["Analysis", "PlanAnalyser", "analyse"]

# Below this many files, starting workers costs more than it saves.
MIN_PARALLEL_FILES = 48
_CHUNK_FILES = 8


@dataclass(frozen=True, slots=True)
class Analysis:
    """One plan file parsed (with its source lines) and validated."""

    parsed: ParseResult
    validation: ValidationReport


def analyse(
    validator: PlanValidator,
    table: StatusTable,
    path: str,
    data: bytes,
    cache: ParseCache | None = None,
) -> Analysis:
    """Parse (or take the parse of these very bytes from ``cache``) and validate."""
    if cache is None:
        parsed = parse_plan(data, path, table)
    else:
        content_hash = hashlib.sha256(data).hexdigest()
        kept = cache.get(path, content_hash)
        if kept is None:
            parsed = parse_plan(data, path, table)
            cache.put(path, content_hash, parsed)
        else:
            parsed = kept
    return Analysis(parsed, validator.validate(parsed))


# -- worker side ------------------------------------------------------------------------------

_worker: tuple[PlanValidator, StatusTable, ParseCache | None] | None = None


def _start_worker(
    validator_factory: Callable[[], PlanValidator],
    table: StatusTable,
    cache: ParseCache | None = None,
) -> None:
    global _worker  # one per worker process, built once
    _worker = (validator_factory(), table, cache)


def _analyse_in_worker(items: list[tuple[str, bytes]]) -> list[Analysis]:
    """A chunk of plans; their parses are kept together at its end."""
    assert _worker is not None, "worker not started"
    validator, table, cache = _worker
    analyses = [analyse(validator, table, path, data, cache) for path, data in items]
    if cache is not None:
        cache.flush()
    return analyses


# -- caller side ------------------------------------------------------------------------------


class PlanAnalyser:
    """Parses and validates plans, in worker processes when there are many.

    Args:
        validator_factory: builds the validator; it must be picklable (a module-level
            function, or a ``functools.partial`` of one) since workers call it too.
        table: the status table.
        workers: worker processes for long lists (default: the number of usable cores;
            ``0`` or ``1``: never start any).
        min_parallel: the shortest list handed to workers.
        validator: the validator of this process, when already built (else the factory
            builds it on first use).
        cache: the parses kept from earlier syncs (workers use it too); none by default.

    Workers start on the first long list and stay until ``close()`` (or the ``with`` block
    ends).
    """

    def __init__(
        self,
        validator_factory: Callable[[], PlanValidator],
        table: StatusTable,
        *,
        workers: int | None = None,
        min_parallel: int = MIN_PARALLEL_FILES,
        validator: PlanValidator | None = None,
        cache: ParseCache | None = None,
    ) -> None:
        self._factory = validator_factory
        self._cache = cache
        self._table = table
        self._workers = _usable_cores() if workers is None else workers
        self._min_parallel = min_parallel
        self._validator = validator
        self._pool: Executor | None = None

    @property
    def validator(self) -> PlanValidator:
        """The validator of this process."""
        if self._validator is None:
            self._validator = self._factory()
        return self._validator

    def analyse(self, path: str, data: bytes) -> Analysis:
        """One plan, in this process."""
        return analyse(self.validator, self._table, path, data, self._cache)

    def analysed(self, path: str, data: bytes, parsed: ParseResult) -> Analysis:
        """The analysis of ``parsed``, a parse of ``data`` made already (it is kept)."""
        if self._cache is not None:
            self._cache.put(path, hashlib.sha256(data).hexdigest(), parsed)
        return Analysis(parsed, self.validator.validate(parsed))

    def analyse_many(self, items: Iterable[tuple[str, bytes]]) -> Iterator[Analysis]:
        """The analyses of ``(path, bytes)`` items, in their order, lazily."""
        batch = list(items)
        if self._workers < 2 or len(batch) < self._min_parallel:
            return (self.analyse(path, data) for path, data in batch)
        pool = self._start_pool()
        step = _CHUNK_FILES
        chunks = [batch[start : start + step] for start in range(0, len(batch), step)]
        return itertools.chain.from_iterable(pool.map(_analyse_in_worker, chunks))

    def _start_pool(self) -> Executor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(self._factory, self._table, self._cache),
            )
        return self._pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._cache is not None:
            self._cache.flush()

    def __enter__(self) -> PlanAnalyser:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
