"""The database's announcements of edits made outside the engine: its triggers send
``NOTIFY sync_engine_changes`` with the edited plan's id (once a transaction and plan; the
engine's own writes send none). A running engine listens, and syncs just those plans
(``SyncScope(plan_ids=…)``); the change log stays the record of what changed, so an
announcement missed while not listening costs nothing but the wait for a full sync."""

from __future__ import annotations

import psycopg
from psycopg import sql

from sync_engine.adapters.postgres.connection import redact_conninfo, translate_errors

__all__ = ["CHANNEL", "DatabaseChangeListener"]

CHANNEL = "sync_engine_changes"


class DatabaseChangeListener:
    """Listens for ``CHANNEL`` on a connection of its own (opened by ``open()`` or a
    ``with`` block). Not thread-safe: one thread waits.

    Raises ``StoreUnavailableError`` / ``StoreError`` (see ``sync_engine.errors``) when the
    server cannot be reached or the connection is lost.
    """

    def __init__(self, conninfo: str, *, connect_timeout: float = 10.0) -> None:
        self._conninfo = conninfo
        self._where = redact_conninfo(conninfo)
        self._connect_timeout = max(1, round(connect_timeout))
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def open(self) -> None:
        """Connect and start listening: edits committed from now on are announced."""
        if self._connection is not None:
            return
        with translate_errors(self._where):
            connection = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="sync-engine listener",
            )
            try:
                connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            except BaseException:
                connection.close()
                raise
        self._connection = connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> DatabaseChangeListener:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def wait(self, timeout: float) -> set[str]:
        """The ids of the plans announced since the last call: waits up to ``timeout``
        seconds for a first announcement, then takes every one already arrived (an empty
        set when none came)."""
        if self._connection is None:
            self.open()
        assert self._connection is not None
        plan_ids: set[str] = set()
        with translate_errors(self._where):
            for notify in self._connection.notifies(timeout=timeout, stop_after=1):
                plan_ids.add(notify.payload)
            if plan_ids:
                for notify in self._connection.notifies(timeout=0):
                    plan_ids.add(notify.payload)
        return plan_ids
