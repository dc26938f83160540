"""sync-engine: keeps Markdown development plans and a database in step, both ways."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
