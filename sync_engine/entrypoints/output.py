"""Exit codes, usage errors and JSON output shared by the commands."""

from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad usage found after argument parsing (a missing file, a bad setting)."""


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
