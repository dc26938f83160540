"""The plan files of a root on the local disk."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sync_engine.config import STATE_DIR_NAME

_READ_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class LocalFileStat:
    path: str
    size: int
    mtime_ns: int
    inode: int


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    posix = PurePosixPath(path)
    for pattern in patterns:
        if posix.match(pattern) or fnmatch.fnmatch(path, pattern):
            return True
        # "dir/**" also names the folder's direct children.
        if pattern.endswith("/**") and (path + "/").startswith(pattern[:-2]):
            return True
        if pattern.startswith("**/") and _matches(path, (pattern[3:],)):
            return True
    return False


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
        self._include = include
        self._exclude = (f"{STATE_DIR_NAME}/**", ".git/**", *exclude)
        self._ignore_filter = ignore_filter

    def _inside(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.root)
        except ValueError:
            return False
        return True

    def list_plans(self) -> list[LocalFileStat]:
        found: list[LocalFileStat] = []
        for folder, dirs, names in os.walk(self.root, followlinks=False):
            base = Path(folder)
            relative_folder = base.relative_to(self.root).as_posix()
            prefix = "" if relative_folder == "." else relative_folder + "/"
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".git")
                and d != STATE_DIR_NAME
                and d != "node_modules"
                and not _matches(prefix + d + "/x", self._exclude)
            )
            for name in sorted(names):
                relative = prefix + name
                if not name.endswith(".md"):
                    continue
                if not _matches(relative, self._include) or _matches(relative, self._exclude):
                    continue
                path = base / name
                if path.is_symlink() and not self._inside(path):
                    continue
                try:
                    info = path.stat()
                except OSError:
                    continue
                found.append(LocalFileStat(relative, info.st_size, info.st_mtime_ns, info.st_ino))
        if self._ignore_filter is not None and found:
            ignored = self._ignore_filter([stat.path for stat in found])
            found = [stat for stat in found if stat.path not in ignored]
        return found

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
