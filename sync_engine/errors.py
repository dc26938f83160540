"""Every exception sync-engine raises on purpose, in one tree.

    SyncEngineError
    ├── ConfigError            a bad setting or rules file, says which and where
    ├── StoreError             a database could not be reached or refused a write
    │   └── StoreUnavailableError
    ├── SyncError              a sync could not proceed
    │   ├── MassDeletionRefusedError
    │   └── PlanChangedDuringSyncError   (transient: retry)
    ├── GitCommitError         a commit of written-back files failed (they stay written)
    ├── NotFoundError          an id or path names nothing
    └── ConflictHeldError      an edit touches a field an open conflict holds

Errors are marked transient (worth retrying) or terminal through ``transient``.
"""

from __future__ import annotations


class SyncEngineError(Exception):
    """Base of sync-engine's own errors."""

    transient = False


class ConfigError(SyncEngineError, ValueError):
    """A setting or a rules file has a bad value; the message names it and where it came
    from."""


class StoreError(SyncEngineError):
    """The database refused or failed an operation; nothing was half-applied."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached."""

    transient = True


class SyncError(SyncEngineError):
    """A sync could not proceed."""


class MassDeletionRefusedError(SyncError):
    """More than the allowed share of a root's plans or a plan's tasks would be deleted."""


class PlanChangedDuringSyncError(SyncError):
    """The file changed while it was being synced; the plan is retried."""

    transient = True


class GitCommitError(SyncEngineError):
    """Committing the files a sync wrote back failed (no git, a hook refused, a merge in
    progress, …). The files and the database are as the sync left them; only the commit is
    missing."""


class NotFoundError(SyncEngineError):
    """An id, id prefix or path names nothing (or, for a prefix, more than one thing)."""


class ConflictHeldError(SyncEngineError):
    """An edit names a field that an open conflict holds until someone settles it."""
