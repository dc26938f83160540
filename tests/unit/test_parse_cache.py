"""``LocalParseCache`` in a real SQLite file, and ``PlanAnalyser`` with it: a plan's bytes
parsed once, by any process, are not parsed again; anything amiss with an entry is a miss."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import pickle
import sqlite3
from pathlib import Path

import pytest

from sync_engine.adapters.parse_cache import LocalParseCache, parser_fingerprint
from sync_engine.domain.status import DEFAULT_STATUS_TABLE, StatusTable
from sync_engine.parsing import ParseResult, parse_plan
from sync_engine.services import analysis as analysis_module
from sync_engine.services.analysis import PlanAnalyser
from tests.unit.services.test_analysis import make_validator, sample_items

FINGERPRINT = parser_fingerprint(DEFAULT_STATUS_TABLE)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parsed(path: str, data: bytes) -> ParseResult:
    return parse_plan(data, path, DEFAULT_STATUS_TABLE)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The cache's file (in a state folder made on first use)."""
    return tmp_path / "state" / "parses.sqlite3"


def rows(file: Path) -> int:
    with contextlib.closing(sqlite3.connect(file)) as connection:
        return int(connection.execute("SELECT count(*) FROM parses").fetchone()[0])


def test_a_parse_comes_back_from_the_disk_equal(folder: Path) -> None:
    writer = LocalParseCache(folder, FINGERPRINT)
    items = sample_items()
    for path, data in items:
        writer.put(path, sha(data), parsed(path, data))
    writer.flush()
    assert rows(folder) == len(items)
    reader = LocalParseCache(folder, FINGERPRINT, memory=0)  # another process, say
    for path, data in items:
        assert reader.get(path, sha(data)) == parsed(path, data)


def test_other_bytes_another_path_or_another_parser_miss(folder: Path) -> None:
    path, data = sample_items()[0]
    writer = LocalParseCache(folder, FINGERPRINT)
    writer.put(path, sha(data), parsed(path, data))
    writer.flush()
    cache = LocalParseCache(folder, FINGERPRINT, memory=0)
    assert cache.get(path, sha(data + b"\n")) is None
    assert cache.get("other.md", sha(data)) is None
    assert LocalParseCache(folder, "another parser", memory=0).get(path, sha(data)) is None
    assert cache.get(path, sha(data)) is not None


def test_a_damaged_entry_is_a_miss_and_is_written_over(folder: Path) -> None:
    path, data = sample_items()[0]
    cache = LocalParseCache(folder, FINGERPRINT, memory=0)
    cache.put(path, sha(data), parsed(path, data))
    cache.flush()
    with contextlib.closing(sqlite3.connect(folder)) as connection:
        (whole,) = connection.execute("SELECT entry FROM parses").fetchone()
    for damaged in (whole[: len(whole) // 2], b"", b"not a pickle", pickle.dumps(("x", 1))):
        with contextlib.closing(sqlite3.connect(folder)) as connection, connection:
            connection.execute("UPDATE parses SET entry = ?", (damaged,))
        assert cache.get(path, sha(data)) is None
    cache.put(path, sha(data), parsed(path, data))
    cache.flush()
    assert cache.get(path, sha(data)) == parsed(path, data)


def test_a_file_that_is_no_database_is_made_anew(folder: Path) -> None:
    folder.parent.mkdir(parents=True)
    folder.write_bytes(b"garbage, not SQLite" * 100)
    path, data = sample_items()[0]
    cache = LocalParseCache(folder, FINGERPRINT, memory=0)
    assert cache.get(path, sha(data)) is None
    cache.put(path, sha(data), parsed(path, data))
    cache.flush()
    assert LocalParseCache(folder, FINGERPRINT, memory=0).get(path, sha(data)) is not None


def test_a_cache_that_cannot_be_written_only_misses(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way")
    cache = LocalParseCache(blocked / "parses.sqlite3", FINGERPRINT, memory=0)
    path, data = sample_items()[0]
    cache.put(path, sha(data), parsed(path, data))  # does not raise
    cache.flush()  # nor does this
    assert cache.get(path, sha(data)) is None
    assert blocked.read_text() == "in the way"


def test_the_last_parses_are_kept_in_memory(folder: Path) -> None:
    cache = LocalParseCache(folder, FINGERPRINT, memory=2)
    items = sample_items()[:3]
    for path, data in items:
        cache.put(path, sha(data), parsed(path, data))
    (first, first_data), *kept = items  # never written: not flushed
    assert cache.get(first, sha(first_data)) is None  # pushed out of memory
    for path, data in kept:
        assert cache.get(path, sha(data)) == parsed(path, data)


def test_a_pickled_cache_keeps_its_folder_and_parser_not_its_memory(folder: Path) -> None:
    cache = LocalParseCache(folder, FINGERPRINT)
    path, data = sample_items()[0]
    cache.put(path, sha(data), parsed(path, data))  # held, not written
    copy = pickle.loads(pickle.dumps(cache))
    assert (copy.file, copy.fingerprint) == (folder, FINGERPRINT)
    assert copy.get(path, sha(data)) is None
    assert cache.get(path, sha(data)) is not None


def test_the_fingerprint_names_the_status_table() -> None:
    other = StatusTable.from_mapping({"~": "blocked"})
    assert parser_fingerprint(DEFAULT_STATUS_TABLE) == FINGERPRINT
    assert parser_fingerprint(other) != FINGERPRINT


def analyser(folder: Path, workers: int = 0) -> PlanAnalyser:
    factory = functools.partial(make_validator, DEFAULT_STATUS_TABLE)
    cache = LocalParseCache(folder, FINGERPRINT, memory=0)
    return PlanAnalyser(factory, DEFAULT_STATUS_TABLE, workers=workers, min_parallel=1, cache=cache)


def no_parsing(data: bytes, path: str, table: StatusTable) -> ParseResult:
    raise AssertionError(f"{path} was parsed again")


def test_workers_fill_the_cache_and_the_next_analyser_parses_nothing(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = sample_items()
    with analyser(folder, workers=2) as parallel:
        first = list(parallel.analyse_many(items))
        assert parallel._pool is not None
    assert rows(folder) == len(items)  # each worker wrote its chunks
    monkeypatch.setattr(analysis_module, "parse_plan", no_parsing)
    again = [analyser(folder).analyse(path, data) for path, data in items]
    assert again == first


def test_a_reanalysed_write_is_kept(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, data = next(item for item in sample_items() if b"- [ ] " in item[1])
    plans = analyser(folder)
    ticked = data.replace(b"- [ ] ", b"- [x] ", 1)
    after = plans.analysed(path, ticked, parsed(path, ticked))  # a parse the merge made
    plans.close()
    monkeypatch.setattr(analysis_module, "parse_plan", no_parsing)
    assert analyser(folder).analyse(path, ticked) == after


def test_validation_runs_on_a_cached_parse(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = sample_items()
    with analyser(folder) as first:
        fresh = [first.analyse(path, data) for path, data in items]
    assert any(analysis.validation.findings for analysis in fresh)  # the samples have some
    monkeypatch.setattr(analysis_module, "parse_plan", no_parsing)
    with analyser(folder) as second:
        again = [second.analyse(path, data) for path, data in items]
    assert [a.validation for a in again] == [a.validation for a in fresh]


def test_a_background_cache_writes_in_order_and_flush_waits(folder: Path) -> None:
    cache = LocalParseCache(folder, FINGERPRINT, background=True)
    (path, data), (_, other) = sample_items()[:2]
    cache.put(path, sha(other), parsed(path, other))
    cache.put(path, sha(data), parsed(path, data))  # the last put of a path is its entry
    assert cache.get(path, sha(data)) == parsed(path, data)  # from memory at once
    cache.flush()
    reader = LocalParseCache(folder, FINGERPRINT, memory=0)
    assert reader.get(path, sha(data)) == parsed(path, data)
    assert reader.get(path, sha(other)) is None
    copy = pickle.loads(pickle.dumps(cache))
    assert copy._writer is None  # a worker's copy writes in its own thread
