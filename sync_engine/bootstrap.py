"""The composition root: builds the engine's parts from the settings."""

from __future__ import annotations

import json
from typing import Any

from sync_engine.config import SCHEMAS_DIR, ConfigError, Settings
from sync_engine.validation import PlanValidator, RuleConfigError, builtin_rules


def load_schema(name: str) -> dict[str, Any]:
    path = SCHEMAS_DIR / name
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot load the schema: {error}") from error
    return loaded


def build_validator(settings: Settings) -> PlanValidator:
    """The plan schema and the rule set configured by ``rules/validation.yaml`` files."""
    rules = builtin_rules()
    for document in settings.load_rule_documents("validation"):
        try:
            rules.apply_config(document)
        except RuleConfigError as error:
            raise ConfigError(f"validation rules: {error}") from error
    return PlanValidator(load_schema("plan.schema.json"), rules, settings.status_table())
