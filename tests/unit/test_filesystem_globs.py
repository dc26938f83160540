"""The include/exclude globs of ``LocalPlanFiles``."""

from __future__ import annotations

import pytest

from sync_engine.adapters.filesystem import _Globs

CASES = [
    # pattern, path, matches
    ("**/*.md", "plan.md", True),
    ("**/*.md", "a/b/plan.md", True),
    ("**/*.md", "a/b/plan.txt", False),
    ("*.md", "a/b/plan.md", True),  # a relative pattern matches the last segments
    ("drafts/**", "drafts", True),
    ("drafts/**", "drafts/x/y.md", True),
    ("drafts/**", "old-drafts/x.md", False),
    ("drafts/**", "a/drafts/x.md", True),  # as PurePath.match: anchored on the right
    ("**/node_modules/**", "node_modules/x.md", True),
    ("**/node_modules/**", "web/node_modules/pkg/x.md", True),
    ("lot-*/x.md", "root/lot-1/x.md", True),
    ("lot-*/x.md", "root/lot-1/y/x.md", False),
    ("a/*.md", "x/a/b/c.md", False),
    ("[!a]*.md", "b.md", True),
    ("[!a]*.md", "a.md", False),
    ("x?.md", "x1.md", True),
    ("x?.md", "x12.md", False),
    ("docs/[ab]*/**", "docs/api/x.md", True),
    ("docs/[ab]*/**", "docs/cli/x.md", False),
    ("notes (old).md", "notes (old).md", True),
    ("notes (old).md", "notes old.md", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), CASES)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    assert _Globs((pattern,)).matches(path) is expected


def test_a_set_matches_any_of_its_patterns_and_an_empty_set_nothing() -> None:
    globs = _Globs(("drafts/**", "*.tmp.md"))
    assert globs.matches("drafts/a.md")
    assert globs.matches("x/y.tmp.md")
    assert not globs.matches("plan.md")
    assert not _Globs(()).matches("plan.md")
