"""Which strategy settles each type of conflict, and how severe each type is.

Read from ``rules/conflicts.yaml``::

    strategies:
      content_divergence: auto-merge
      status_divergence: manual
    severity:
      structure_change: high

Types left out keep their defaults (DESIGN.md: content → ``auto-merge``, everything else →
``manual``; severities content/status ``medium``, structure ``high``, metadata ``low``), or
the values of the policy given as ``defaults`` — so a plans root's own file can be applied on
top of the shipped one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sync_engine.conflicts.model import ConflictType
from sync_engine.conflicts.strategies import (
    AutoMergeStrategy,
    ConflictStrategy,
    ManualStrategy,
)
from sync_engine.errors import ConfigError

SEVERITIES = ("low", "medium", "high")

DEFAULT_SEVERITIES: Mapping[ConflictType, str] = MappingProxyType(
    {
        ConflictType.CONTENT: "medium",
        ConflictType.STATUS: "medium",
        ConflictType.STRUCTURE: "high",
        ConflictType.METADATA: "low",
    }
)

_SECTIONS = ("strategies", "severity")


@dataclass(frozen=True)
class ConflictPolicy:
    """The strategy and the severity of each :class:`ConflictType`."""

    strategies: Mapping[ConflictType, ConflictStrategy]
    severities: Mapping[ConflictType, str]

    @classmethod
    def default(cls) -> ConflictPolicy:
        """DESIGN.md's defaults; uses the built-ins directly, not the entry points."""
        manual = ManualStrategy()
        strategies: dict[ConflictType, ConflictStrategy] = dict.fromkeys(ConflictType, manual)
        strategies[ConflictType.CONTENT] = AutoMergeStrategy()
        return cls(MappingProxyType(strategies), DEFAULT_SEVERITIES)

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, object],
        available: Mapping[str, ConflictStrategy],
        source: str = "rules/conflicts.yaml",
        *,
        defaults: ConflictPolicy | None = None,
    ) -> ConflictPolicy:
        """The policy a rules document describes, on top of ``defaults`` (or :meth:`default`).

        Args:
            data: the document (``strategies:`` and ``severity:`` mappings, both optional).
            available: strategies by name, usually :func:`load_strategies`.
            source: where the document came from, for messages.
            defaults: the policy the document amends.

        Raises:
            ConfigError: a section or value has the wrong shape, or a conflict type, strategy
                or severity is unknown; the message names ``source``, the key and the valid
                names.
        """
        base = defaults if defaults is not None else cls.default()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: must hold a mapping, not {type(data).__name__}")
        for key in data:
            if key not in _SECTIONS:
                raise ConfigError(
                    f"{source}: unknown section {key!r}; valid: {', '.join(_SECTIONS)}"
                )
        strategies = dict(base.strategies)
        for kind, name in _entries(data, "strategies", source).items():
            if name not in available:
                raise ConfigError(
                    f"{source}: strategies.{kind}: unknown strategy {name!r}; "
                    f"valid: {', '.join(sorted(available))}"
                )
            strategies[kind] = available[name]
        severities = dict(base.severities)
        for kind, level in _entries(data, "severity", source).items():
            if level not in SEVERITIES:
                raise ConfigError(
                    f"{source}: severity.{kind}: unknown severity {level!r}; "
                    f"valid: {', '.join(SEVERITIES)}"
                )
            severities[kind] = level
        return cls(MappingProxyType(strategies), MappingProxyType(severities))

    def strategy_for(self, kind: ConflictType) -> ConflictStrategy:
        """The strategy of a type (``manual`` when the policy leaves the type out)."""
        strategy = self.strategies.get(kind)
        return strategy if strategy is not None else ManualStrategy()

    def severity_for(self, kind: ConflictType) -> str:
        """The severity of a type (its default when the policy leaves the type out)."""
        return self.severities.get(kind, DEFAULT_SEVERITIES[kind])


def _entries(data: Mapping[str, object], section: str, source: str) -> dict[ConflictType, str]:
    """One section as conflict type → string, checked."""
    entries = data.get(section)
    if entries is None:
        return {}
    if not isinstance(entries, Mapping):
        raise ConfigError(f"{source}: {section} must map conflict types to names")
    valid = ", ".join(kind.value for kind in ConflictType)
    checked: dict[ConflictType, str] = {}
    for key, value in entries.items():
        try:
            kind = ConflictType(key)
        except ValueError:
            raise ConfigError(
                f"{source}: {section}: unknown conflict type {key!r}; valid: {valid}"
            ) from None
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {section}.{key}: expected a name, not {value!r}")
        checked[kind] = value
    return checked
