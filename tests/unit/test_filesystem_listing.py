"""``LocalPlanFiles.list_plans`` on real folders: which files count as plans, and in what
order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync_engine.adapters.filesystem import LocalPlanFiles, _Globs


def write(root: Path, relative: str, text: str = "- [ ] x\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "plans"
    folder.mkdir()
    return folder


def listed(root: Path, **options: tuple[str, ...]) -> list[str]:
    return [stat.path for stat in LocalPlanFiles(root, **options).list_plans()]


def test_a_folders_files_in_name_order_come_before_its_sub_folders(root: Path) -> None:
    for relative in ("b.md", "a/z.md", "a.md", "c/d/e.md", "a/b/c.md", "c/a.md"):
        write(root, relative)
    assert listed(root) == ["a.md", "b.md", "a/z.md", "a/b/c.md", "c/a.md", "c/d/e.md"]


def test_only_markdown_outside_git_state_and_dependency_folders(root: Path) -> None:
    write(root, "plan.md")
    write(root, "notes.txt")
    write(root, "plan.md.bak")
    write(root, ".git/x.md")
    write(root, ".github/y.md")
    write(root, ".sync-engine/z.md")
    write(root, "web/node_modules/pkg/readme.md")
    write(root, ".hidden/kept.md")
    assert listed(root) == ["plan.md", ".hidden/kept.md"]


def test_include_and_exclude_patterns(root: Path) -> None:
    for relative in ("plan.md", "drafts/a.md", "lot/b.md", "lot/old/c.md"):
        write(root, relative)
    assert listed(root, exclude=("drafts/**",)) == ["plan.md", "lot/b.md", "lot/old/c.md"]
    assert listed(root, include=("lot/**",), exclude=("**/old/**",)) == ["lot/b.md"]


def test_files_are_excluded_as_the_whole_pattern_set_says(root: Path) -> None:
    paths = [
        "plan.md",
        "x.tmp.md",
        "lot/y.tmp.md",
        "notes.md",
        "drafts/a.md",
        "lot/drafts/b/c.md",
        "node_modules.md",
        "keep/node_modules.md",
    ]
    for relative in paths:
        write(root, relative)
    exclude = ("*.tmp.md", "notes.md/**", "**/drafts/**", "**/node_modules.md/**")
    everything = _Globs((".sync-engine/**", ".git/**", *exclude))
    found = listed(root, exclude=exclude)
    assert found == ["plan.md", "keep/node_modules.md"]
    # The same as trying every file and its folders against every pattern.
    for path in paths:
        folders = [path.rsplit("/", depth)[0] + "/x" for depth in range(1, path.count("/") + 1)]
        left_out = everything.matches(path) or any(everything.matches(f) for f in folders)
        assert left_out is (path not in found), path


def test_symlinks(root: Path, tmp_path: Path) -> None:
    real = write(root, "lot/real.md")
    outside = write(tmp_path / "outside", "secret.md")
    (root / "inside-link.md").symlink_to(real)
    (root / "outside-link.md").symlink_to(outside)
    (root / "broken-link.md").symlink_to(root / "gone.md")
    (root / "linked-folder").symlink_to(root / "lot", target_is_directory=True)
    stats = LocalPlanFiles(root).list_plans()
    # A link into the root counts (with its target's size); a folder link is not entered.
    assert [stat.path for stat in stats] == ["inside-link.md", "lot/real.md"]
    assert stats[0].inode == real.stat().st_ino == stats[1].inode


def named(root: Path, paths: list[str], **options: tuple[str, ...]) -> list[str]:
    return [stat.path for stat in LocalPlanFiles(root, **options).stat_plans(paths)]


def every_path(root: Path) -> list[str]:
    """Every file and link under ``root`` (entering linked folders), as root-relative paths."""
    found = [
        (Path(folder) / name).relative_to(root).as_posix()
        for folder, _, names in os.walk(root, followlinks=True)
        for name in names
    ]
    return sorted(found, reverse=True)  # not the listing's order


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"exclude": ("drafts/**", "*.tmp.md")},
        {"include": ("lot/**",), "exclude": ("**/old/**",)},
    ],
)
def test_named_paths_are_plans_exactly_when_the_listing_lists_them(
    root: Path, tmp_path: Path, options: dict[str, tuple[str, ...]]
) -> None:
    for relative in (
        "plan.md", "x.tmp.md", "drafts/a.md", "lot/b.md", "lot/old/c.md", "notes.txt",
        ".git/x.md", ".sync-engine/z.md", "web/node_modules/p/readme.md", ".hidden/kept.md",
    ):  # fmt: skip
        write(root, relative)
    real = root / "lot" / "b.md"
    (root / "inside-link.md").symlink_to(real)
    (root / "outside-link.md").symlink_to(write(tmp_path / "outside", "secret.md"))
    (root / "broken-link.md").symlink_to(root / "gone.md")
    (root / "linked-folder").symlink_to(root / "lot", target_is_directory=True)
    candidates = every_path(root)
    assert {"linked-folder/b.md", "broken-link.md"} <= set(candidates)
    found = named(root, candidates, **options)
    assert sorted(found) == sorted(listed(root, **options))
    assert found == [path for path in candidates if path in found]  # in the order given


def test_named_paths_that_are_no_plans_are_left_out(root: Path) -> None:
    write(root, "plan.md")
    (root / "folder.md").mkdir()
    os.mkfifo(root / "pipe.md")
    odd = ["gone.md", "../plans/plan.md", "./plan.md", "folder.md", "pipe.md", "", "/plan.md"]
    assert named(root, [*odd, "plan.md", "plan.md"]) == ["plan.md"]


def test_named_paths_ignored_by_the_filter_are_left_out(root: Path) -> None:
    write(root, "kept.md")
    write(root, "ignored.md")
    files = LocalPlanFiles(root, ignore_filter=lambda paths: frozenset({"ignored.md"}))
    assert [stat.path for stat in files.stat_plans(["ignored.md", "kept.md"])] == ["kept.md"]
