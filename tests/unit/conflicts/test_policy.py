"""The conflict policy read from rules/conflicts.yaml, and the strategy registry."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
import yaml

import sync_engine.conflicts as conflicts
from sync_engine.bootstrap import conflict_policy
from sync_engine.config import Settings, load_settings
from sync_engine.conflicts import (
    ENTRY_POINT_GROUP,
    AutoMergeStrategy,
    Conflict,
    ConflictPolicy,
    ConflictStrategy,
    ConflictType,
    DatabaseWinsStrategy,
    ManualStrategy,
    MarkdownWinsStrategy,
    Resolution,
    load_strategies,
)
from sync_engine.conflicts import strategies as strategies_module
from sync_engine.errors import ConfigError
from tests.conftest import ROOT

SHIPPED = ROOT / "rules" / "conflicts.yaml"
BUILTINS = {
    "markdown-wins": MarkdownWinsStrategy,
    "database-wins": DatabaseWinsStrategy,
    "manual": ManualStrategy,
    "auto-merge": AutoMergeStrategy,
}


def names(policy: ConflictPolicy) -> dict[str, str]:
    return {kind.value: strategy.name for kind, strategy in policy.strategies.items()}


def load(text: str, tmp_path: Path) -> ConflictPolicy:
    path = tmp_path / "conflicts.yaml"
    path.write_text(text, encoding="utf-8")
    return ConflictPolicy.from_mapping(
        yaml.safe_load(path.read_text()), load_strategies(), str(path)
    )


DESIGN_DEFAULTS = {
    "content_divergence": "auto-merge",
    "status_divergence": "manual",
    "structure_change": "manual",
    "metadata_mismatch": "manual",
}
DEFAULT_SEVERITIES = {
    ConflictType.CONTENT: "medium",
    ConflictType.STATUS: "medium",
    ConflictType.STRUCTURE: "high",
    ConflictType.METADATA: "low",
}


def test_the_default_policy_is_design_md() -> None:
    policy = ConflictPolicy.default()
    assert names(policy) == DESIGN_DEFAULTS
    assert dict(policy.severities) == DEFAULT_SEVERITIES


def test_the_shipped_rules_file_states_the_defaults() -> None:
    document = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    policy = ConflictPolicy.from_mapping(document, load_strategies(), str(SHIPPED))
    assert names(policy) == DESIGN_DEFAULTS
    assert dict(policy.severities) == DEFAULT_SEVERITIES


def test_a_rules_file_changes_only_what_it_names(tmp_path: Path) -> None:
    policy = load(
        "strategies:\n"
        "  status_divergence: markdown-wins   # the editor is the truth\n"
        "  metadata_mismatch: database-wins\n"
        "severity:\n"
        "  content_divergence: high\n",
        tmp_path,
    )
    assert names(policy) == DESIGN_DEFAULTS | {
        "status_divergence": "markdown-wins",
        "metadata_mismatch": "database-wins",
    }
    assert policy.severity_for(ConflictType.CONTENT) == "high"
    assert policy.severity_for(ConflictType.STRUCTURE) == "high"
    assert policy.severity_for(ConflictType.METADATA) == "low"


def test_an_empty_document_is_the_default(tmp_path: Path) -> None:
    assert names(load("{}\n", tmp_path)) == DESIGN_DEFAULTS


def test_a_document_applies_on_top_of_another_policy() -> None:
    shipped = ConflictPolicy.from_mapping(
        {"strategies": {"status_divergence": "database-wins"}}, load_strategies()
    )
    root = ConflictPolicy.from_mapping(
        {"severity": {"status_divergence": "low"}}, load_strategies(), defaults=shipped
    )
    assert root.strategy_for(ConflictType.STATUS).name == "database-wins"
    assert root.severity_for(ConflictType.STATUS) == "low"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "strategies:\n  status_divergence: theirs\n",
            r"conflicts\.yaml: strategies\.status_divergence: unknown strategy 'theirs'; "
            r"valid: auto-merge, database-wins, manual, markdown-wins",
            id="unknown-strategy",
        ),
        pytest.param(
            "strategies:\n  status: manual\n",
            r"conflicts\.yaml: strategies: unknown conflict type 'status'; valid: "
            r"content_divergence, status_divergence, structure_change, metadata_mismatch",
            id="unknown-type",
        ),
        pytest.param(
            "severity:\n  metadata_mismatch: critical\n",
            r"severity\.metadata_mismatch: unknown severity 'critical'; valid: low, medium, high",
            id="unknown-severity",
        ),
        pytest.param(
            "severity:\n  bogus_type: low\n",
            r"severity: unknown conflict type 'bogus_type'",
            id="unknown-type-in-severity",
        ),
        pytest.param(
            "strategy:\n  status_divergence: manual\n",
            r"unknown section 'strategy'; valid: strategies, severity",
            id="unknown-section",
        ),
        pytest.param(
            "strategies: [manual]\n",
            r"strategies must map conflict types to names",
            id="not-a-mapping",
        ),
        pytest.param(
            "strategies:\n  status_divergence: 3\n",
            r"strategies\.status_divergence: expected a name, not 3",
            id="not-a-name",
        ),
        pytest.param("- manual\n", r"must hold a mapping, not list", id="document-not-a-mapping"),
    ],
)
def test_bad_rules_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(text, tmp_path)


# --- the registry ------------------------------------------------------------------------


def test_the_builtins_are_registered_as_entry_points() -> None:
    found = {entry.name: entry.load() for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert {name: found.get(name) for name in BUILTINS} == BUILTINS


def test_load_strategies_gives_the_four_builtins() -> None:
    loaded = load_strategies()
    assert {name: type(strategy) for name, strategy in loaded.items()} == BUILTINS
    assert all(strategy.name == name for name, strategy in loaded.items())
    assert all(isinstance(strategy, ConflictStrategy) for strategy in loaded.values())


class ShoutingStrategy:
    """A plug-in for the tests: settles every conflict with a custom value."""

    name = "shouting"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return Resolution("custom", str(conflict.markdown).upper())


class Misnamed:
    name = "something-else"

    def resolve(self, conflict: Conflict) -> Resolution | None:
        return None


class NotAStrategy:
    pass


def entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{target}", group=ENTRY_POINT_GROUP)


def with_entry_points(monkeypatch: pytest.MonkeyPatch, *found: EntryPoint) -> None:
    def fake(*, group: str) -> tuple[EntryPoint, ...]:
        assert group == ENTRY_POINT_GROUP
        return found

    monkeypatch.setattr(strategies_module, "entry_points", fake)


def test_a_plugin_is_loaded_by_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    with_entry_points(monkeypatch, entry("shouting", "ShoutingStrategy"))
    loaded = load_strategies()
    assert isinstance(loaded["shouting"], ShoutingStrategy)
    assert set(loaded) == {*BUILTINS, "shouting"}
    policy = ConflictPolicy.from_mapping({"strategies": {"status_divergence": "shouting"}}, loaded)
    assert policy.strategy_for(ConflictType.STATUS).name == "shouting"


def test_builtins_survive_stale_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = EntryPoint(
        name="auto-merge",
        value="sync_engine.conflicts.old_module:Gone",
        group=ENTRY_POINT_GROUP,
    )
    with_entry_points(monkeypatch, stale)
    assert {name: type(s) for name, s in load_strategies().items()} == BUILTINS
    with_entry_points(monkeypatch)
    assert set(load_strategies()) == set(BUILTINS)


@pytest.mark.parametrize(
    ("found", "message"),
    [
        pytest.param(
            (EntryPoint("broken", "no_such_module_here:Strategy", ENTRY_POINT_GROUP),),
            r"plug-in 'broken' \(no_such_module_here:Strategy\) cannot be loaded: "
            r"ModuleNotFoundError",
            id="import-fails",
        ),
        pytest.param(
            (entry("nothing", "NotAStrategy"),),
            r"plug-in 'nothing' .* has no 'name' and 'resolve\(conflict\)'",
            id="not-a-strategy",
        ),
        pytest.param(
            (entry("misnamed", "Misnamed"),),
            r"plug-in 'misnamed' .* calls itself 'something-else'",
            id="name-mismatch",
        ),
        pytest.param(
            (entry("manual", "ShoutingStrategy"),),
            r"plug-in 'manual' .* takes the name of a built-in strategy",
            id="replaces-a-builtin",
        ),
        pytest.param(
            (entry("shouting", "ShoutingStrategy"), entry("shouting", "Misnamed")),
            r"two conflict strategy plug-ins are named 'shouting'",
            id="two-with-one-name",
        ),
    ],
)
def test_a_broken_plugin_is_named(
    monkeypatch: pytest.MonkeyPatch, found: tuple[EntryPoint, ...], message: str
) -> None:
    with_entry_points(monkeypatch, *found)
    with pytest.raises(ConfigError, match=message):
        load_strategies()


# --- the built-in strategies ---------------------------------------------------------------


def conflict(name: str, base: object, markdown: object, database: object) -> Conflict:
    return Conflict(ConflictType.CONTENT, name, "t", base, markdown, database, "medium")


@pytest.mark.parametrize(
    ("strategy", "settles"),
    [
        (MarkdownWinsStrategy(), Resolution("markdown")),
        (DatabaseWinsStrategy(), Resolution("database")),
        (ManualStrategy(), None),
    ],
)
def test_simple_strategies(strategy: ConflictStrategy, settles: Resolution | None) -> None:
    for name in ("text", "status", "place", "exists", "title"):
        assert strategy.resolve(conflict(name, "a", "b", "c")) == settles


def test_auto_merge_settles_only_text_with_a_base() -> None:
    strategy = AutoMergeStrategy()
    assert strategy.resolve(conflict("text", "Écrire", "Écrire vite", "Relire")) == Resolution(
        "custom", "Relire vite"
    )
    assert strategy.resolve(conflict("text", "Écrire", "Relire", "Lire")) is None
    assert strategy.resolve(conflict("text", None, "Relire", "Lire")) is None
    assert strategy.resolve(conflict("status", "todo", "done", "cancelled")) is None
    assert strategy.resolve(conflict("title", "Plan", "Plan A", "Le plan")) is None


def test_resolution_chosen_value() -> None:
    example = conflict("text", "a", "b", "c")
    assert Resolution("markdown").chosen(example) == "b"
    assert Resolution("database").chosen(example) == "c"
    assert Resolution("custom", "d").chosen(example) == "d"


def test_the_package_exports_are_sorted_and_real() -> None:
    exported = list(conflicts.__all__)
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))
    assert all(hasattr(conflicts, name) for name in exported)


def test_every_policy_type_has_a_strategy_and_a_severity() -> None:
    policy: Mapping[ConflictType, object] = ConflictPolicy.default().strategies
    assert set(policy) == set(ConflictType)


def settings_with_rules(tmp_path: Path, document: str) -> Settings:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "conflicts.yaml").write_text(document, encoding="utf-8")
    return load_settings(root=tmp_path, flags={"rules_dir": rules}, environ={})


def test_a_plugin_named_in_the_roots_rules_is_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_entry_points(monkeypatch, entry("shouting", "ShoutingStrategy"))
    settings = settings_with_rules(tmp_path, "strategies:\n  status_divergence: shouting\n")
    policy = conflict_policy(settings)
    assert policy.strategy_for(ConflictType.STATUS).name == "shouting"


def test_builtins_alone_need_no_plugin_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*, group: str) -> tuple[EntryPoint, ...]:
        raise AssertionError("the installed packages' metadata was read")

    monkeypatch.setattr(strategies_module, "entry_points", refuse)
    settings = settings_with_rules(tmp_path, "strategies:\n  status_divergence: database-wins\n")
    assert conflict_policy(settings).strategy_for(ConflictType.STATUS).name == "database-wins"
