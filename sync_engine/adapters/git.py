"""The git work tree around a plans root (GitPython)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import git


class GitPythonWorkTree:
    """HEAD, changed paths between commits and ignored paths, relative to the plans root."""

    def __init__(self, repo: git.Repo, root: Path) -> None:
        self._repo = repo
        work_tree = Path(repo.working_tree_dir or root).resolve()
        self._prefix = root.resolve().relative_to(work_tree).as_posix()
        if self._prefix == ".":
            self._prefix = ""

    @classmethod
    def find(cls, root: Path) -> GitPythonWorkTree | None:
        """The work tree holding ``root``, or ``None`` when it is not in one."""
        try:
            repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return None
        if repo.bare:
            return None
        return cls(repo, root)

    def _relative(self, path: str) -> str | None:
        if not self._prefix:
            return path
        if path.startswith(self._prefix + "/"):
            return path[len(self._prefix) + 1 :]
        return None

    def head(self) -> str | None:
        try:
            return self._repo.head.commit.hexsha
        except ValueError:
            return None

    def changed_between(self, old: str, new: str) -> set[str] | None:
        try:
            # -z: paths verbatim, not quoted (core.quotePath quotes non-ASCII names).
            names = self._repo.git.diff("--name-only", "--no-renames", "-z", old, new)
        except git.GitCommandError:
            return None
        changed = {self._relative(name) for name in names.split("\0") if name}
        return {name for name in changed if name}

    def ignored(self, paths: list[str]) -> frozenset[str]:
        """Which of these root-relative paths git ignores."""
        if not paths:
            return frozenset()
        full = [f"{self._prefix}/{p}" if self._prefix else p for p in paths]
        # Paths go in and out NUL-separated on stdin: verbatim (not quoted as non-ASCII names
        # are otherwise), and no limit on the length of a command line.
        with tempfile.TemporaryFile() as names:
            names.write("\0".join(full).encode())
            names.seek(0)
            try:
                out = self._repo.git.check_ignore("-z", "--stdin", istream=names)
            except git.GitCommandError:  # exit 1: none ignored
                return frozenset()
        result = {self._relative(name) for name in out.split("\0") if name}
        return frozenset(name for name in result if name)
