"""``reparse_checkboxes``: a plan whose checkboxes alone changed, read from its previous
parse, is exactly what a full parse of the new bytes gives; any other change is refused."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest

from sync_engine.domain.status import DEFAULT_STATUS_TABLE
from sync_engine.parsing import parse_plan
from sync_engine.parsing.incremental import reparse_checkboxes
from tests.conftest import SAMPLE_PLANS

TABLE = DEFAULT_STATUS_TABLE
CHARS = (" ", "x", "X", "/", "-", ">", "!", "?", "é", "✓")

PLAN = """\
# Plan

**Version 1.0 - 2025-06-13 - Progression: 40%**

## Phase 1: Début

*Progression: 50%*

- [x] **1.1** première
  - [ ] sous-tâche 🚀
1. [ ] numérotée
> - [ ] citée
- [ ] avec [crochets] et `code`

- [/] = en cours
- [ ] = légende seulement avec x
[ ] case nue
"""


def set_char(data: bytes, line: int, char: str) -> bytes:
    """``data`` with the checkbox of (1-based) ``line`` set to ``char``."""
    lines = data.split(b"\n")
    at = lines[line - 1].index(b"[") + 1
    lines[line - 1] = lines[line - 1][:at] + char.encode() + lines[line - 1][at + 1 :]
    return b"\n".join(lines)


def check(data: bytes, line: int, char: str) -> bool:
    """Whether the checkbox change was read incrementally; it must equal a full parse."""
    previous = parse_plan(data, "plan.md", TABLE)
    changed = set_char(data, line, char)
    quick = reparse_checkboxes(previous, changed, TABLE)
    if quick is not None:
        assert quick == parse_plan(changed, "plan.md", TABLE)
    return quick is not None


@pytest.mark.parametrize("char", CHARS)
def test_every_list_task_of_a_plan(char: str) -> None:
    data = PLAN.encode()
    plan = parse_plan(data, "plan.md", TABLE).plan
    list_tasks = [task.line for task in plan.tasks if task.bulleted]
    assert list_tasks == [9, 10, 11, 12, 13, 16]
    read = {line: check(data, line, char) for line in list_tasks}
    legend = char not in " xX"  # line 16's text reads as a legend entry for other characters
    assert read == {line: not (line == 16 and legend) for line in list_tasks}


def test_several_checkboxes_at_once_crlf_and_bom() -> None:
    data = codecs.BOM_UTF8 + PLAN.replace("\n", "\r\n").encode()
    previous = parse_plan(data, "plan.md", TABLE)
    changed = set_char(set_char(set_char(data, 9, " "), 10, "x"), 12, "✓")
    quick = reparse_checkboxes(previous, changed, TABLE)
    assert quick is not None
    assert quick == parse_plan(changed, "plan.md", TABLE)
    assert [task.status for task in quick.plan.tasks[:4]] == ["todo", "done", "todo", "✓"]


def test_utf16_plans_too() -> None:
    data = codecs.BOM_UTF16_LE + PLAN.encode("utf-16-le")
    previous = parse_plan(data, "plan.md", TABLE)
    changed = data.replace("[x] **1.1**".encode("utf-16-le"), "[ ] **1.1**".encode("utf-16-le"))
    quick = reparse_checkboxes(previous, changed, TABLE)
    assert quick is not None
    assert quick == parse_plan(changed, "plan.md", TABLE)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("- [ ] avec [crochets]", "- [ ] avec [accolades]"),  # a text
        ("- [x] **1.1** première", "- [x] **1.1** première\n- [ ] ajoutée"),  # a line more
        ("  - [ ] sous-tâche 🚀\n", ""),  # a line less
        ("[ ] case nue", "[x] case nue"),  # a bare checkbox, not a list item
        ("- [ ] avec", "- [] avec"),  # no character: not a task any more
        ("- [ ] avec", "- [1] avec"),  # a digit: numbering, not a task
        ("- [ ] avec", "- [xx] avec"),  # two characters
        ("- [ ] avec", "* [ ] avec"),  # the bullet
        ("*Progression: 50%*", "*Progression: 60%*"),  # not a task line
        ("1. [ ] numérotée\n", "1. [ ] numérotée\r\n"),  # a line ending
    ],
)
def test_any_other_change_is_left_to_a_full_parse(old: str, new: str) -> None:
    previous = parse_plan(PLAN.encode(), "plan.md", TABLE)
    assert old in PLAN
    assert reparse_checkboxes(previous, PLAN.replace(old, new, 1).encode(), TABLE) is None


def test_a_plan_the_sync_leaves_alone_is_left_to_a_full_parse() -> None:
    data = (PLAN + "<<<<<<< HEAD\n- [ ] a\n=======\n- [ ] b\n>>>>>>> other\n").encode()
    previous = parse_plan(data, "plan.md", TABLE)
    assert previous.plan.flags.skip_sync
    assert reparse_checkboxes(previous, set_char(data, 9, " "), TABLE) is None


@pytest.mark.parametrize("path", sorted(SAMPLE_PLANS.glob("*.md")), ids=lambda path: path.name)
def test_sample_plans(path: Path) -> None:
    data = path.read_bytes()
    tasks = [task for task in parse_plan(data, path.name, TABLE).plan.tasks if task.bulleted]
    rng = random.Random(path.name)
    for task in rng.sample(tasks, min(len(tasks), 12)):
        for char in rng.sample(CHARS, 3):
            if char != task.char:
                assert check(data, task.line, char)


@pytest.mark.corpus
def test_real_plans(corpus: Path) -> None:
    files = sorted((corpus / "roo-plans").rglob("*.md"))
    rng = random.Random(1)
    checked = 0
    for path in rng.sample(files, min(len(files), 40)):
        data = path.read_bytes()
        plan = parse_plan(data, path.name, TABLE).plan
        tasks = [task for task in plan.tasks if task.bulleted]
        if plan.flags.skip_sync or not tasks:
            continue
        for task in rng.sample(tasks, min(len(tasks), 2)):
            char = rng.choice([c for c in CHARS if c != task.char])
            checked += check(data, task.line, char)
    assert checked >= 20
