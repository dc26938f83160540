from __future__ import annotations

from sync_engine.entrypoints.cli import main

raise SystemExit(main())
