"""Encodings, line endings and damaged files: parsed as far as possible, never raising."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_engine.parsing import decode, encode, parse_plan

PLAN = "# Plan\n\n## Phase 1: Début\n\n- [x] première\n- [ ] deuxième 🚀\n"


def test_bom_is_kept_out_of_the_text_and_remembered() -> None:
    result = parse_plan(codecs.BOM_UTF8 + PLAN.encode())
    assert result.plan.source.bom
    assert result.plan.title == "Plan"
    assert [task.line for task in result.plan.tasks] == [5, 6]


def test_bom_only_file_is_an_empty_plan() -> None:
    result = parse_plan(codecs.BOM_UTF8)
    assert result.plan.tasks == ()
    assert not result.plan.flags.skip_sync


def test_crlf_lines_are_counted_like_lf() -> None:
    result = parse_plan(PLAN.replace("\n", "\r\n").encode())
    assert result.plan.source.newline == "\r\n"
    assert [task.line for task in result.plan.tasks] == [5, 6]
    assert result.plan.tasks[1].text == "deuxième 🚀"


def test_mixed_and_old_mac_line_endings() -> None:
    data = b"# Plan\r\n\r- [x] one\n- [ ] two\r\n- [ ] three\r"
    plan = parse_plan(data).plan
    assert [(task.line, task.text) for task in plan.tasks] == [
        (3, "one"),
        (4, "two"),
        (5, "three"),
    ]


def test_utf16_with_bom_decodes_exactly() -> None:
    data = codecs.BOM_UTF16_LE + PLAN.encode("utf-16-le")
    plan = parse_plan(data).plan
    assert plan.source.encoding == "utf-16-le"
    assert len(plan.tasks) == 2
    assert not plan.flags.skip_sync


def test_undecodable_bytes_are_read_as_far_as_possible_and_flagged() -> None:
    data = PLAN.encode() + b"- [ ] caf\xe9 latin-1\n"
    plan = parse_plan(data, "bad.md").plan
    assert len(plan.tasks) == 3
    assert plan.flags.undecodable
    assert plan.flags.skip_sync
    finding = next(f for f in plan.findings if f.code == "undecodable")
    assert finding.severity.value == "error"
    assert finding.line == 7


def test_conflict_markers_flag_the_plan() -> None:
    text = PLAN + "<<<<<<< HEAD\n- [x] ours\n=======\n- [ ] theirs\n>>>>>>> branch\n"
    plan = parse_plan(text.encode()).plan
    assert plan.flags.conflict_markers
    assert plan.flags.skip_sync
    finding = next(f for f in plan.findings if f.code == "conflict-markers")
    assert finding.line == 7


def test_a_setext_underline_alone_is_not_a_conflict_marker() -> None:
    plan = parse_plan(b"Title\n=======\n\n- [ ] task\n").plan
    assert not plan.flags.conflict_markers
    assert plan.title == "Title"


def test_replacement_characters_decode_and_are_not_flagged() -> None:
    plan = parse_plan("- [ ] caf\ufffd\n".encode()).plan
    assert not plan.flags.skip_sync
    assert plan.tasks[0].text == "caf\ufffd"


def test_deep_indentation_of_a_large_plan() -> None:
    lines = ["# Big", "", "## Phase 1: All", ""]
    for index in range(2400):
        depth = index % 26
        lines.append("  " * depth + f"- [{'x' if index % 3 else ' '}] task {index}")
    plan = parse_plan(("\n".join(lines) + "\n").encode()).plan
    assert len(plan.tasks) == 2400
    assert max(task.depth for task in plan.tasks) == 25
    assert plan.tasks[25].parent == 24


def test_decode_encode_round_trip_for_exact_files() -> None:
    for data in (
        PLAN.encode(),
        codecs.BOM_UTF8 + PLAN.encode(),
        b"",
        codecs.BOM_UTF16_BE + PLAN.encode("utf-16-be"),
    ):
        decoded = decode(data)
        assert decoded.exact
        assert encode(decoded.text, decoded.encoding, decoded.bom) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parsing_random_bytes_never_raises(data: bytes) -> None:
    result = parse_plan(data)
    assert result.plan.source.size == len(data)


_MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "# T",
            "## Phase 1: A",
            "- [ ] a",
            "  - [x] b",
            "```",
            "```bash",
            "```plaintext",
            "> - [ ] q",
            "[ ] bare",
            "1. [X] n",
            "",
            "<!--",
            "-->",
            "---",
            "=======",
            "<<<<<<< HEAD",
            ">>>>>>> x",
            "    code",
            "| a |",
            "*Progression: 50%*",
            "\t- [/] t",
        ]
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_MARKDOWNISH, st.sampled_from(["\n", "\r\n", "\r"]))
def test_parsing_markdown_like_text_never_raises(lines: list[str], newline: str) -> None:
    plan = parse_plan(newline.join(lines).encode()).plan
    for task in plan.tasks:
        assert 1 <= task.line <= task.end_line <= max(plan.source.line_count, 1)
        assert task.parent is None or task.parent < task.index
