"""The plan files of a root on the local disk."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat as stat_module
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from sync_engine.config import STATE_DIR_NAME
from sync_engine.errors import PlanChangedDuringSyncError

_READ_ATTEMPTS = 5


class LocalFileStat(NamedTuple):
    """A listed or read plan's stat (a named tuple: a listing makes one per plan)."""

    path: str
    size: int
    mtime_ns: int
    inode: int


def _segment_regex(segment: str) -> str:
    """A glob segment as a regex that never crosses ``/`` (``PurePath.match`` semantics)."""
    out = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := segment.find("]", index + 2)) != -1:
            body = segment[index + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            index = close
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def _pattern_regexes(pattern: str) -> list[str]:
    """Regexes that together match what ``pattern`` names: the whole path as ``fnmatch``
    does (``*`` crosses ``/``), its last segments as ``PurePosixPath.match`` does, a folder
    and everything below it for ``dir/**``, and ``**/x`` also at the top."""
    found = [fnmatch.translate(pattern)]
    if not pattern.startswith("/"):
        segments = "/".join(_segment_regex(part) for part in pattern.split("/"))
        found.append(f"(?s:(?:.*/)?{segments})\\Z")
    if pattern.endswith("/**"):
        found.append(f"(?s:{re.escape(pattern[:-3])}(?:/.*)?)\\Z")
    if pattern.startswith("**/"):
        found.extend(_pattern_regexes(pattern[3:]))
    return found


class _Globs:
    """A set of glob patterns compiled into one regex."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        # Each alternative costs every path a try: a pattern given twice is tried once.
        unique = dict.fromkeys(patterns)
        regexes = list(dict.fromkeys(r for pattern in unique for r in _pattern_regexes(pattern)))
        self._regex = re.compile("|".join(regexes)) if regexes else None

    def matches(self, path: str) -> bool:
        return self._regex is not None and self._regex.match(path) is not None


class LocalPlanFiles:
    """Lists and reads the ``*.md`` plans under a root.

    Folders named in ``exclude`` (default: the state folder, ``.git``, ``node_modules``) are
    not entered; symlinks leading out of the root are ignored; paths ignored by git are left
    out when ``ignore_filter`` is given (git answers it).
    """

    def __init__(
        self,
        root: Path,
        include: tuple[str, ...] = ("**/*.md",),
        exclude: tuple[str, ...] = (),
        ignore_filter: Callable[[list[str]], frozenset[str]] | None = None,
    ) -> None:
        self.root = root.resolve()
        self._include = _Globs(include)
        # The default names every Markdown file: no need to ask it about each one.
        self._include_all = include == ("**/*.md",)
        excluded = (f"{STATE_DIR_NAME}/**", ".git/**", *exclude)
        self._exclude = _Globs(excluded)
        # A file under a folder that a ``…/**`` pattern names is never reached: its folder
        # is not entered. So files are tried against the other patterns alone, and against
        # the one path a ``x/**`` pattern names besides what is under it: ``x`` itself.
        self._exclude_files = _Globs(tuple(p for p in excluded if not p.endswith("/**")))
        self._excluded_paths = frozenset(
            path
            for pattern in excluded
            if pattern.endswith("/**")
            for path in (pattern[:-3], pattern[3:-3] if pattern.startswith("**/") else None)
            if path
        )
        self._ignore_filter = ignore_filter

    def _inside(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.root)
        except ValueError:
            return False
        return True

    def list_plans(self) -> list[LocalFileStat]:
        """Every plan under the root, folder by folder in name order (a folder's files
        before its sub-folders). One ``stat`` a file: ``os.scandir`` tells folders and
        symlinks apart without one, so a sync of an unchanged root of a thousand plans
        costs a few milliseconds here."""
        found: list[LocalFileStat] = []
        self._scan(str(self.root), "", found)
        if self._ignore_filter is not None and found:
            ignored = self._ignore_filter([stat.path for stat in found])
            found = [stat for stat in found if stat.path not in ignored]
        return found

    def stat_plans(self, paths: Iterable[str]) -> list[LocalFileStat]:
        """The stats of those of ``paths`` (root-relative) that ``list_plans`` would list,
        in their order: the files of a sync told which plans changed, found without
        listing the folder. A path that is missing, outside the root, under a folder the
        listing does not enter, or not a plan by the include/exclude settings (or git's
        ignore rules) is left out."""
        found: list[LocalFileStat] = []
        for path in dict.fromkeys(paths):
            stat = self._plan_stat(path)
            if stat is not None:
                found.append(stat)
        if self._ignore_filter is not None and found:
            ignored = self._ignore_filter([stat.path for stat in found])
            found = [stat for stat in found if stat.path not in ignored]
        return found

    def _plan_stat(self, path: str) -> LocalFileStat | None:
        """The stat of the plan at ``path`` as the listing finds it, or ``None``."""
        *folders, name = path.split("/")
        if not name.endswith(".md") or any(part in ("", ".", "..") for part in (*folders, name)):
            return None
        if not (self._include_all or self._include.matches(path)):
            return None
        if path in self._excluded_paths or self._exclude_files.matches(path):
            return None
        prefix = ""
        for folder in folders:
            if not self._enters(prefix, folder) or os.path.islink(self.root / prefix / folder):
                return None
            prefix = f"{prefix}{folder}/"
        target = self.root / path
        if target.is_symlink() and not self._inside(target):
            return None
        try:
            info = target.stat()
        except OSError:
            return None
        if not stat_module.S_ISREG(info.st_mode):
            return None
        return LocalFileStat(path, info.st_size, info.st_mtime_ns, info.st_ino)

    def _scan(self, folder: str, prefix: str, found: list[LocalFileStat]) -> None:
        """Append the plans of ``folder`` (``prefix``: its root-relative path and ``/``),
        then those of its sub-folders. Symlinked folders are not entered; a symlinked
        file counts only when it leads inside the root."""
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            return  # gone or unreadable, as os.walk skips it
        folders: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            if _is_folder(entry):
                if not entry.is_symlink() and self._enters(prefix, name):
                    folders.append((entry.path, f"{prefix}{name}/"))
                continue
            relative = prefix + name
            if not name.endswith(".md"):
                continue
            if not (self._include_all or self._include.matches(relative)):
                continue
            if relative in self._excluded_paths or self._exclude_files.matches(relative):
                continue
            if entry.is_symlink() and not self._inside(Path(entry.path)):
                continue
            try:
                info = entry.stat()
            except OSError:
                continue
            found.append(LocalFileStat(relative, info.st_size, info.st_mtime_ns, info.st_ino))
        for path, folder_prefix in folders:
            self._scan(path, folder_prefix, found)

    def _enters(self, prefix: str, name: str) -> bool:
        return (
            not name.startswith(".git")
            and name != STATE_DIR_NAME
            and name != "node_modules"
            and not self._exclude.matches(f"{prefix}{name}/x")
        )

    def resolve(self, path: str) -> Path:
        """The absolute path of a root-relative plan path; refuses anything outside."""
        candidate = (self.root / path).resolve()
        if not self._inside(candidate) or candidate == self.root:
            raise ValueError(f"{path!r} is outside the plans root {self.root}")
        return candidate

    def read(self, path: str) -> tuple[bytes, LocalFileStat]:
        """Read while the file holds still: the stat before and after must agree."""
        target = self.resolve(path)
        for _ in range(_READ_ATTEMPTS):
            before = target.stat()
            data = target.read_bytes()
            after = target.stat()
            same = (before.st_size, before.st_mtime_ns, before.st_ino) == (
                after.st_size,
                after.st_mtime_ns,
                after.st_ino,
            )
            if same and len(data) == after.st_size:
                return data, LocalFileStat(path, after.st_size, after.st_mtime_ns, after.st_ino)
        return data, LocalFileStat(path, len(data), after.st_mtime_ns, after.st_ino)

    def write(self, path: str, data: bytes, expected_sha256: str) -> LocalFileStat:
        """Replace the plan's bytes with ``data`` if it still hashes to ``expected_sha256``:
        a temp file beside it (never listed as a plan: it does not end in ``.md``), fsync,
        the re-check, an atomic rename. Temp files of this plan left by a process that died
        before its rename are removed first.

        Raises:
            PlanChangedDuringSyncError: the file changed since it was read.
        """
        target = self.resolve(path)
        _remove_stale_temp_files(target)
        temp = target.with_name(_temp_name(target.name, os.getpid()))
        try:
            with open(temp, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.chmod(temp, stat_module.S_IMODE(target.stat().st_mode))
                current = target.read_bytes()
            except FileNotFoundError:
                current = None
            if current is None or hashlib.sha256(current).hexdigest() != expected_sha256:
                raise PlanChangedDuringSyncError(
                    f"{path} changed while it was being synced; it was not written"
                )
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        _fsync_folder(target.parent)
        info = target.stat()
        return LocalFileStat(path, info.st_size, info.st_mtime_ns, info.st_ino)

    def unfinished_write(self, path: str) -> bool:
        """Whether a write of the plan was cut short before its rename: a temp file of
        a process that is gone is still beside it."""
        return bool(_stale_temp_files(self.resolve(path)))


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """A folder, or a symlink to one (as ``os.walk`` sorts them)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


_TEMP_SUFFIX = ".sync-engine.tmp"


def _temp_name(name: str, pid: int) -> str:
    return f".{name}.{pid}{_TEMP_SUFFIX}"


def _stale_temp_files(target: Path) -> list[Path]:
    """The temp files of ``target`` whose writing process is gone (killed between writing
    the temp file and renaming it); a live process's temp file is not one."""
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    stale = []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_TEMP_SUFFIX)):
            continue
        pid = name[len(prefix) : -len(_TEMP_SUFFIX)]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.append(target.parent / name)
    return stale


def _remove_stale_temp_files(target: Path) -> None:
    """Remove the temp files of ``target`` left by a process that is gone."""
    for path in _stale_temp_files(target):
        path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process writes one file at a time: its own leftover is stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
