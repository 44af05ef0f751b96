"""Where a Tuner's Optuna study lives: beside the metadata store, never inside its tables.

Optuna's RDB storage keeps its own tables *and its own Alembic revision table* (``alembic_version``), the
very table name the metadata store uses for its schema revision, and the store refuses to open a database
holding tables it does not know. So the study never shares the store's table namespace:

- SQLite store ``…/metadata.db`` → a sibling file ``…/metadata.optuna.db`` (also keeps trial writes, which
  come every heartbeat, off the store file's single writer lock);
- PostgreSQL store → the same database, in its own schema ``sluiceway_optuna`` (selected with the
  connection's ``search_path``; the store only reads ``current_schema()``, so it never sees these tables);
- an in-memory SQLite store (``sqlite://``) → Optuna's in-memory storage: the tuning cannot resume.

A study is named from the pipeline, the component id and a digest of what the search depends on (the
input artifacts' fingerprints, the ``tuner_fn`` code, the direction, the seed), so rerunning the same
tuning after an interruption continues the same study, and changing the data or the search space starts a
new one. ``num_trials``, ``timeout`` and ``parallel_trials`` are not part of it: raising ``num_trials``
extends a finished study.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sluiceway.errors import StoreError
from sluiceway.metadata.urls import redact_url

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)

POSTGRES_SCHEMA = "sluiceway_optuna"
SQLITE_SUFFIX = ".optuna.db"
# Heartbeats let a later run fail the trials a killed process left RUNNING (see fail_orphaned_trials).
HEARTBEAT_INTERVAL_S = 5
GRACE_PERIOD_S = 30
OWNER_ATTR = "sluiceway_owner"  # host:pid of the process running a trial, a trial system attribute
FAIL_REASON_ATTR = "fail_reason"  # why a trial failed, a trial system attribute (the trial history's "error")


def storage_url(store_url: str) -> str | None:
    """The Optuna storage URL for a metadata store URL (None: in memory). See the module docstring."""
    from sqlalchemy.engine import make_url

    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            return None
        stem = database[: -len(".db")] if database.endswith(".db") else database
        return url.set(database=stem + SQLITE_SUFFIX).render_as_string(hide_password=False)
    if url.get_backend_name() == "postgresql":
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise StoreError(
        f"The Tuner keeps its study beside the metadata store, which must be SQLite or PostgreSQL; the store is "
        f"{redact_url(store_url)}."
    )


def open_storage(store_url: str) -> optuna.storages.BaseStorage:
    """Optuna's storage beside the store at ``store_url`` (tables created on first use)."""
    import optuna

    url = storage_url(store_url)
    if url is None:
        logger.warning("The metadata store is in memory: the study is kept in memory and will not resume.")
        return optuna.storages.InMemoryStorage()
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("postgresql"):
        _create_schema(url)
        engine_kwargs = {"connect_args": {"options": f"-csearch_path={POSTGRES_SCHEMA}"}, "pool_pre_ping": True}
    else:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    try:
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
            grace_period=GRACE_PERIOD_S,
        )
    except Exception as exc:  # SQLAlchemy and driver errors: say which storage, without the password
        raise StoreError(
            f"The Tuner could not open its Optuna study storage {redact_url(url)} (beside the metadata store): "
            f"{type(exc).__name__}: {exc}. Check that the store's folder or database is writable."
        ) from exc


def _create_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{POSTGRES_SCHEMA}"'))
    except Exception as exc:  # the driver's error, with the URL redacted
        raise StoreError(
            f"The Tuner could not create the schema {POSTGRES_SCHEMA!r} for its study in {redact_url(url)}: "
            f"{type(exc).__name__}: {exc}. Grant the store's user CREATE on the database."
        ) from exc
    finally:
        engine.dispose()


def study_name(pipeline: str, component_id: str, identity: Mapping[str, Any]) -> str:
    """``{pipeline}.{component}.{digest}``: the same inputs, code, direction and seed give the same study."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{pipeline}.{component_id}.{digest}"


def owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose process is gone (killed on this host); returns their numbers.

    Optuna's heartbeat fails stale trials only after the grace period; a trial whose owning process on this
    host no longer exists is known dead now, so a resume right after a kill need not wait. (A reused pid
    would hide an orphan until its heartbeat goes stale, which Optuna then handles.)
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(trial.system_attrs.get(OWNER_ATTR, ""))
        owner_host, _, pid_text = owner.rpartition(":")
        if owner_host != host or not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            # what optuna.storages.fail_stale_trials does, for trials known dead before their grace period
            study._storage.set_trial_system_attr(
                trial._trial_id, FAIL_REASON_ATTR, f"left running by process {owner}, which ended without finishing it"
            )
            if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
        except UpdateFinishedTrialError:  # another process settled it first: nothing left to do
            pass
    return failed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
