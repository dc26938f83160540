from __future__ import annotations

from sync_engine.entrypoints.cli import main

# Guarded: worker processes (see services/analysis.py) import this module again.
if __name__ == "__main__":
    raise SystemExit(main())
