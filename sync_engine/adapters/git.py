"""The git work tree around a plans root (GitPython)."""

from __future__ import annotations

import shlex
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import git

from sync_engine.errors import GitCommitError
from sync_engine.ports.records import GitAuthor, GitCommit

# File modes of a regular file in a tree; anything else (a symlink, a submodule) is left out.
_FILE_MODES = ("100644", "100755")
# What git leaves in its folder while an operation waits for the user: a commit made then
# would join that operation (conclude a merge, land inside a rebase).
_OPERATIONS = {
    "MERGE_HEAD": "a merge",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or git am",
    "BISECT_LOG": "a bisect",
}
# Path arguments are file names, never patterns (a plan may be named ``[draft].md``).
_LITERAL = {"GIT_LITERAL_PATHSPECS": "1"}


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

    def repository_path(self, path: str) -> str:
        """A root-relative path as git names it: relative to the top of the work tree."""
        return f"{self._prefix}/{path}" if self._prefix else path

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
        full = [self.repository_path(p) for p in paths]
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

    def commit(
        self,
        files: Mapping[str, bytes],
        message: Callable[[Sequence[str]], str],
        author: GitAuthor,
    ) -> GitCommit:
        """Commit these root-relative files with exactly these bytes on top of HEAD, by
        ``author`` (also the committer), with the repository's hooks; ``message`` makes the
        message from the (root-relative) paths that go in.

        The commit is built in a temporary index holding HEAD's tree and these files only,
        so nothing else the user changed, staged or not, goes in. Afterwards the user's
        index takes the committed content of a file whose entry was still HEAD's (a file the
        user had staged other content for keeps it). Files HEAD does not hold as regular
        files are left out.

        Raises:
            GitCommitError: git refused (a hook, a merge in progress, a locked index, …).
        """
        parent = self.head()
        if parent is None:  # an unborn branch: HEAD holds no file
            return GitCommit(None, None, left_out=tuple(files))
        self._refuse_during_operation()
        paths = {self.repository_path(path): path for path in files}
        in_head = self._tree_entries(parent, list(paths))
        updates: list[tuple[str, str, str]] = []
        for name, path in paths.items():
            entry = in_head.get(name)
            if entry is not None and entry[0] in _FILE_MODES:
                blob = self._hash(name, files[path])
                if blob != entry[1]:
                    updates.append((entry[0], blob, name))
        left_out = tuple(
            path
            for name, path in paths.items()
            if name not in in_head or in_head[name][0] not in _FILE_MODES
        )
        if not updates:
            return GitCommit(None, parent, left_out=left_out)
        committed = tuple(paths[name] for _, _, name in updates)
        made = self._commit_tree(parent, updates, message(committed), author)
        try:
            self._refresh_user_index(in_head, updates)
        except GitCommitError as error:
            names = " ".join(shlex.quote(name) for _, _, name in updates)
            raise GitCommitError(
                f"committed {made[:12]}, but the index could not be brought in step ({error}); "
                f"`git reset -q -- {names}` does it"
            ) from error
        return GitCommit(made, parent, committed=committed, left_out=left_out)

    def _commit_tree(
        self, parent: str, updates: Sequence[tuple[str, str, str]], message: str, author: GitAuthor
    ) -> str:
        """``git commit`` of HEAD's tree with ``updates``, from a temporary index."""
        with tempfile.TemporaryDirectory(prefix="sync-engine-index-") as folder:
            index = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
            self._git(["read-tree", parent], env=index)
            self._update_index(updates, env=index)
            if self.head() != parent:
                raise GitCommitError(
                    "HEAD moved while the files written back were being committed; "
                    "they were left uncommitted"
                )
            identity = {"GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email}
            # git commit itself moves HEAD only if it is still where it found it.
            self._git(
                ["commit", "-q", "-m", message, f"--author={author}"], env={**identity, **index}
            )
        made = self._repo.head.commit
        if [commit.hexsha for commit in made.parents] != [parent]:
            raise GitCommitError(
                f"HEAD moved while the files written back were being committed: "
                f"{made.hexsha[:12]} may not be the engine's commit; check `git log`"
            )
        return made.hexsha

    def _refuse_during_operation(self) -> None:
        git_dir = Path(self._repo.git_dir)
        for name, operation in _OPERATIONS.items():
            if (git_dir / name).exists():
                raise GitCommitError(
                    f"{operation} is in progress in {self._repo.working_tree_dir}; "
                    "the files written back were left uncommitted"
                )

    def _refresh_user_index(
        self, in_head: Mapping[str, tuple[str, str]], updates: Sequence[tuple[str, str, str]]
    ) -> None:
        """Give the user's index the committed content of each file whose entry was HEAD's,
        so that ``git status`` shows it clean; a file the user had staged other content for
        keeps it (it shows as staged against the new HEAD)."""
        staged = self._index_entries([name for _, _, name in updates])
        in_step = [
            (mode, blob, name) for mode, blob, name in updates if staged.get(name) == in_head[name]
        ]
        if in_step:
            self._update_index(in_step, env={})

    def _tree_entries(self, commit: str, names: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``name: (mode, object id)`` of these repository paths in the commit's tree."""
        out = self._git(["ls-tree", "-z", "--full-tree", commit, "--", *names], env={})
        entries = {}
        for info, name in _records(out):
            mode, _, object_id = info.split()
            entries[name] = (mode, object_id)
        return entries

    def _index_entries(self, names: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``name: (mode, object id)`` of these repository paths in the user's index (not
        the ones in conflict)."""
        out = self._git(["ls-files", "-z", "--stage", "--", *names], env={})
        entries = {}
        for info, name in _records(out):
            mode, object_id, stage = info.split()
            if stage == "0":
                entries[name] = (mode, object_id)
        return entries

    def _hash(self, name: str, data: bytes) -> str:
        """Store the bytes as a blob, through the path's filters (line endings, …) as
        ``git add`` would."""
        with tempfile.TemporaryFile() as content:
            content.write(data)
            content.seek(0)
            return self._git(
                ["hash-object", "-w", f"--path={name}", "--stdin"], env={}, istream=content
            )

    def _update_index(self, entries: Sequence[tuple[str, str, str]], env: dict[str, str]) -> None:
        lines = "".join(f"{mode} {blob}\t{name}\0" for mode, blob, name in entries)
        with tempfile.TemporaryFile() as listing:
            listing.write(lines.encode())
            listing.seek(0)
            self._git(["update-index", "-z", "--index-info"], env=env, istream=listing)

    def _git(self, arguments: list[str], env: dict[str, str], istream: Any = None) -> str:
        """Run a git command in the work tree; a refusal becomes a ``GitCommitError`` that
        gives git's reason."""
        command = getattr(self._repo.git, arguments[0].replace("-", "_"))
        try:
            out: str = command(*arguments[1:], env={**_LITERAL, **env}, istream=istream)
        except git.GitCommandError as error:
            raise GitCommitError(f"git {arguments[0]} failed: {_reason(error)}") from error
        except OSError as error:  # no git executable
            raise GitCommitError(f"git cannot be run: {error}") from error
        return out


def _reason(error: git.GitCommandError) -> str:
    """What git said, without GitPython's ``stderr: '…'`` wrapping."""
    said = str(error.stderr or error.stdout or "").strip()
    for prefix in ("stderr:", "stdout:"):
        said = said.removeprefix(prefix).strip()
    if len(said) >= 2 and said[0] == said[-1] == "'":
        said = said[1:-1].strip()
    return said or f"exit status {error.status}"


def _records(out: str) -> list[tuple[str, str]]:
    """``(info, path)`` of each NUL-terminated ``info<TAB>path`` record of a listing."""
    return [
        (info, name)
        for record in out.split("\0")
        if record
        for info, _, name in [record.partition("\t")]
    ]
