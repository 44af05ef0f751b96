"""The metadata store: every run, execution and artifact, and the events that link them.

One implementation on SQLAlchemy 2 Core serves SQLite (the embedded default, in WAL mode so two runs can
share one file) and PostgreSQL (for teams). Every method is one short transaction. Writes on SQLite
take the write lock up front (``BEGIN IMMEDIATE``) so concurrent writers queue instead of failing with
"database is locked" half-way through a transaction.

Nothing that is not a healthy Sluiceway store is used as one (see ``opening.py``), and every database
error surfaces as a ``StoreError`` that names the store and what to do (see ``failures.py``).

Over 500 lines on purpose: one class whose methods are each one transaction over the same tables; the
records it returns, the opening checks and the error wording already live in their own modules.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from sluiceway.artifacts.base import Artifact, artifact_class
from sluiceway.errors import NotFoundError, StoreError, StoreNotFoundError
from sluiceway.metadata import tables as t
from sluiceway.metadata.failures import damaged_error, driver_errors, missing_driver_error, sqlite_path, store_error
from sluiceway.metadata.opening import (
    check_sqlite_file,
    init_hint,
    quick_check_once,
    read_revision,
    read_schema,
    refuse_foreign_tables,
    refuse_unknown_revision,
    schema_problems,
)
from sluiceway.metadata.records import ExecutionRecord, Lineage, LineageNode, RunRecord
from sluiceway.metadata.urls import redact_url

__all__ = ["ExecutionRecord", "Lineage", "LineageNode", "MetadataStore", "RunRecord"]


# Execution states.
RUNNING, COMPLETE, CACHED, FAILED = "RUNNING", "COMPLETE", "CACHED", "FAILED"
CANCELED, ABANDONED = "CANCELED", "ABANDONED"
SKIPPED = "SKIPPED"  # a condition (``when=``) was false, or an upstream was skipped: ``error`` says why
SUCCESSFUL = (COMPLETE, CACHED)
# Artifact states: only LIVE artifacts are ever recorded (publishing is atomic), DELETED once removed.
LIVE, DELETED = "LIVE", "DELETED"
# A run's state once deleted (``delete_run``): hidden from listings and resolvers, kept for lineage.
RUN_DELETED = "DELETED"


# Built once: constructing statements costs more than executing them on SQLite.
_INSERT_EVENT = insert(t.events)
_INSERT_EXECUTION = insert(t.executions)


def now_ms() -> int:
    return int(time.time() * 1000)


def _sqlite_setup(engine: Engine, verified: Callable[[], bool]) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        if verified():  # switching to WAL rewrites the file's header: never on a file that is not ours
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sluiceway_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class MetadataStore:
    """Open the metadata store at a SQLAlchemy URL, creating it (``create=True``) or migrating it as needed.

    ``MetadataStore("sqlite:///.sluiceway/metadata.db")`` or ``MetadataStore("postgresql://user@host/db")``.
    With ``create=False`` a missing store raises ``StoreNotFoundError`` instead of being created (for
    commands that only read). Anything that is not a Sluiceway store (a folder, a 0-byte file, another
    application's database) is refused with ``NotAStoreError``; ``MetadataStore.initialize`` (behind
    ``sluiceway store init``) adopts an empty file, or with ``force=True`` another application's database.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self._open(url, create=create, adopt_empty=False, adopt_foreign=False)

    @classmethod
    def initialize(cls, url: str, *, force: bool = False) -> tuple[MetadataStore, str]:
        """Create a store at ``url`` (or adopt a 0-byte file; with ``force``, a database with other tables).

        Returns the opened store and what was done: ``"created"``, ``"migrated"`` or ``"existing"``.
        """
        store = cls.__new__(cls)
        outcome = store._open(url, create=True, adopt_empty=True, adopt_foreign=force)
        return store, outcome

    def __repr__(self) -> str:
        return f"MetadataStore({redact_url(self.url)!r})"

    # -- opening --------------------------------------------------------------------------------------

    def _open(self, url: str, *, create: bool, adopt_empty: bool, adopt_foreign: bool) -> str:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._path: Path | None = sqlite_path(url) if self.is_sqlite else None
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._type_ids: dict[str, int] = {}
        self._host = socket.gethostname()
        self._checked = False  # SQLite: quick_check passed before this instance's first write
        self._verified = False  # SQLite: the file is a Sluiceway store (connections may switch it to WAL)
        created = False
        if self._path is not None:
            new = check_sqlite_file(url, self._path, create=create, adopt_empty=adopt_empty)
            if new and not self._path.exists():
                created = _create_sqlite_store(url, self._path)
        self._engine = self._create_engine()
        self._driver_errors = driver_errors()
        opening_errors: tuple[type[BaseException], ...] = (*self._driver_errors, OSError)
        try:
            outcome = "created" if created else self._prepare(create=create, adopt_foreign=adopt_foreign)
            self._verified = True
            if self.is_sqlite:  # the connection that checked did not switch the file to WAL; new ones will
                self._use_wal()
            return outcome
        except StoreError:
            self._engine.dispose()
            raise
        except opening_errors as exc:
            self._engine.dispose()
            raise store_error(url, exc, "open") from exc

    def _use_wal(self) -> None:
        # On the pooled connection, outside any transaction (raw: no BEGIN); a no-op on a file already in WAL.
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()
        finally:
            raw.close()

    def _create_engine(self) -> Engine:
        url = self.url
        try:
            if self.is_sqlite:
                engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
                _sqlite_setup(engine, lambda: self._verified)
                return engine
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise missing_driver_error(self.url, exc.name) from exc
        except NoSuchModuleError as exc:
            raise StoreError(
                f"The metadata store URL {redact_url(self.url)} names a database kind or driver SQLAlchemy does not "
                "know. Use sqlite:///path/to/metadata.db or postgresql://user@host/database."
            ) from exc
        except ArgumentError as exc:
            raise StoreError(
                f"The metadata store URL {redact_url(self.url)} is not a valid database URL. Use "
                "sqlite:///path/to/metadata.db or postgresql://user@host/database."
            ) from exc

    def _prepare(self, *, create: bool, adopt_foreign: bool) -> str:
        """Check what is in the database and bring its schema to HEAD; returns what was done."""
        from sluiceway.metadata.migrations import HEAD

        with self._engine.connect() as conn:
            schema = read_schema(conn)
            revision = read_revision(conn, schema)
            if revision.current is None:
                if revision.foreign_tables and not adopt_foreign:
                    refuse_foreign_tables(self.url, revision.foreign_tables)
                if not create:
                    raise StoreNotFoundError(
                        f"No metadata store at {redact_url(self.url)} (the database has no Sluiceway tables). Run a "
                        f"pipeline to create one, or create an empty store with {init_hint(self.url)}."
                    )
            elif not revision.known:
                refuse_unknown_revision(self.url, conn, schema, revision)
            elif revision.current == HEAD:
                problems = schema_problems(schema)
                if problems:
                    raise damaged_error(self.url, "; ".join(problems) + " (changed outside Sluiceway, or corrupt)")
                return "existing"
            conn.rollback()
        self._migrate()
        return "created" if revision.current is None else "migrated"

    def _migrate(self) -> None:
        # Alembic reads the revision again inside this write transaction: a store that another process
        # created or migrated meanwhile is left as it is.
        with self._engine.execution_options(sluiceway_write=True).begin() as conn:
            _upgrade(conn)

    # -- plumbing -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        # SQLite has one writer at a time. Threads of this process queue on a lock (cheap, fair) rather
        # than on SQLite's sleeping busy handler; other processes still wait on BEGIN IMMEDIATE.
        try:
            if self._write_lock is None:
                with self._engine.execution_options(sluiceway_write=True).begin() as conn:
                    yield conn
                return
            if not self._checked:
                self._quick_check()
            with self._write_lock, self._engine.execution_options(sluiceway_write=True).begin() as conn:
                yield conn
        except self._driver_errors as exc:
            raise store_error(self.url, exc, "write to") from exc

    def _quick_check(self) -> None:
        # A corrupt page would otherwise go unnoticed until a query happens to read it (or never):
        # look once before this process first writes to the file.
        if self._path is not None:
            with self._engine.connect() as conn:
                quick_check_once(self.url, self._path, conn)
        self._checked = True

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except self._driver_errors as exc:
            raise store_error(self.url, exc, "read") from exc

    def revision(self) -> str | None:
        """The schema revision recorded in the store (Alembic's ``version_num``)."""
        with self._read() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    @property
    def host(self) -> str:
        return self._host

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


    def _type_id(self, conn: Connection, name: str) -> int:
        if name in self._type_ids:
            return self._type_ids[name]
        found = conn.execute(select(t.artifact_types.c.id).where(t.artifact_types.c.name == name)).scalar()
        if found is None:
            try:
                with conn.begin_nested():
                    found = _inserted_id(conn.execute(insert(t.artifact_types).values(name=name)))
            except IntegrityError:  # another process registered it first
                found = conn.execute(select(t.artifact_types.c.id).where(t.artifact_types.c.name == name)).scalar()
        if found is None:
            raise StoreError(f"Artifact type {name!r} could not be registered in the store at {redact_url(self.url)}.")
        self._type_ids[name] = found
        return int(found)

    # -- runs -----------------------------------------------------------------------------------------

    def create_run(self, pipeline: str, name: str, properties: dict[str, Any] | None = None) -> RunRecord:
        stamp = now_ms()
        with self._write() as conn:
            pipeline_id = conn.execute(
                select(t.contexts.c.id).where(and_(t.contexts.c.type == "pipeline", t.contexts.c.name == pipeline))
            ).scalar()
            if pipeline_id is None:
                try:
                    with conn.begin_nested():  # another process may create the same pipeline at the same moment
                        pipeline_id = _inserted_id(conn.execute(
                            insert(t.contexts).values(
                                type="pipeline", name=pipeline, properties="{}", create_time=stamp, update_time=stamp
                            )
                        ))
                except IntegrityError:
                    pipeline_id = conn.execute(
                        select(t.contexts.c.id).where(
                            and_(t.contexts.c.type == "pipeline", t.contexts.c.name == pipeline)
                        )
                    ).scalar_one()
            exists = conn.execute(
                select(t.contexts.c.id).where(and_(t.contexts.c.type == "pipeline_run", t.contexts.c.name == name))
            ).scalar()
            taken = StoreError(
                f"A run named {name!r} already exists; choose another name or resume it with --resume {name}."
            )
            if exists is not None:
                raise taken
            try:
                with conn.begin_nested():  # the unique constraint settles two runs named alike started together
                    conn.execute(
                        insert(t.contexts).values(
                            type="pipeline_run",
                            name=name,
                            parent_id=pipeline_id,
                            state=RUNNING,
                            properties=json.dumps(properties or {}, default=str),
                            create_time=stamp,
                            update_time=stamp,
                        )
                    )
            except IntegrityError:
                raise taken from None
        return self.get_run(name)

    def set_run_state(self, run_id: int, state: str, properties: dict[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"state": state, "update_time": now_ms()}
        with self._write() as conn:
            if properties is not None:
                current = conn.execute(select(t.contexts.c.properties).where(t.contexts.c.id == run_id)).scalar()
                merged = {**json.loads(current or "{}"), **properties}
                values["properties"] = json.dumps(merged, default=str)
            conn.execute(update(t.contexts).where(t.contexts.c.id == run_id).values(**values))

    def _run_query(self) -> Any:
        pipeline = t.contexts.alias("pipeline")
        return select(t.contexts, pipeline.c.name.label("pipeline_name")).select_from(
            t.contexts.join(pipeline, t.contexts.c.parent_id == pipeline.c.id)
        ).where(t.contexts.c.type == "pipeline_run")

    @staticmethod
    def _run_record(row: Any) -> RunRecord:
        return RunRecord(
            id=row.id,
            name=row.name,
            pipeline=row.pipeline_name,
            state=row.state,
            properties=json.loads(row.properties or "{}"),
            create_time=row.create_time,
            update_time=row.update_time,
        )

    def get_run(self, run: str | int) -> RunRecord:
        """A run by name, or by numeric id (an int or a string of digits)."""
        query = self._run_query()
        if isinstance(run, int) or (isinstance(run, str) and run.isdigit()):
            query = query.where(or_(t.contexts.c.id == int(run), t.contexts.c.name == str(run)))
        else:
            query = query.where(t.contexts.c.name == run)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(
                f"No run {run!r} in the metadata store at {redact_url(self.url)}. List runs with `sluiceway runs list`."
            )
        return self._run_record(row)

    def list_runs(
        self, pipeline: str | None = None, limit: int = 50, *, include_deleted: bool = False
    ) -> list[RunRecord]:
        """Runs, newest first; deleted runs (``delete_run``) only with ``include_deleted``."""
        query = self._run_query().order_by(t.contexts.c.id.desc()).limit(limit)
        if not include_deleted:
            query = query.where(or_(t.contexts.c.state.is_(None), t.contexts.c.state != RUN_DELETED))
        if pipeline:
            query = query.where(t.contexts.c.parent_id.in_(
                select(t.contexts.c.id).where(and_(t.contexts.c.type == "pipeline", t.contexts.c.name == pipeline))
            ))
        with self._read() as conn:
            return [self._run_record(row) for row in conn.execute(query)]

    def delete_run(self, run: str | int, *, dry_run: bool = False) -> tuple[RunRecord, list[Artifact], list[Artifact]]:
        """Delete a run: mark the artifacts it produced DELETED and hide the run; return (run, deleted, kept).

        Artifacts that an execution of another (not deleted) run also uses, as an input or reused from the
        cache, are kept LIVE; they go when the last run using them is deleted, in whatever order. Records
        stay (lineage still shows what happened, with the artifacts' states); the files go with
        ``sluiceway gc``. Refused while an execution of the run may still be running. ``dry_run`` computes
        the same answer without changing anything.
        """
        record = self.get_run(run)
        if record.state == RUN_DELETED:
            raise StoreError(f"Run {record.name!r} is already deleted. `sluiceway gc --yes` removes its files.")
        for execution in self.executions(record.id, with_artifacts=False):
            if execution.state != RUNNING:
                continue
            gone = execution.host == self._host and execution.pid is not None and not _pid_alive(execution.pid)
            if not gone:
                where = f"process {execution.pid} on {execution.host}" if execution.pid else "an unknown process"
                raise StoreError(
                    f"Run {record.name!r} cannot be deleted: its execution {execution.id} ({execution.component_id}) "
                    f"is RUNNING in {where}. Wait for the run to finish (or interrupt it), then delete it."
                )
        with self._write() as conn:
            own = select(t.executions.c.id).where(t.executions.c.run_id == record.id)
            deleted_runs = select(t.contexts.c.id).where(and_(t.contexts.c.type == "pipeline_run",
                                                              t.contexts.c.state == RUN_DELETED))
            of_deleted_runs = select(t.executions.c.id).where(t.executions.c.run_id.in_(deleted_runs))
            used_here = select(t.events.c.artifact_id).where(t.events.c.execution_id.in_(own))
            # What this run produced, and what it reused from runs deleted before it (kept then for its sake)
            candidates = sorted(row.id for row in conn.execute(
                select(t.artifacts.c.id).where(and_(
                    t.artifacts.c.state == LIVE,
                    or_(
                        t.artifacts.c.producer_execution_id.in_(own),
                        and_(t.artifacts.c.id.in_(used_here),
                             t.artifacts.c.producer_execution_id.in_(of_deleted_runs)),
                    ),
                ))
            ))
            used_elsewhere = {row.artifact_id for row in conn.execute(
                select(t.events.c.artifact_id)
                .join(t.executions, t.events.c.execution_id == t.executions.c.id)
                .where(and_(t.events.c.artifact_id.in_(candidates), t.executions.c.run_id != record.id,
                            t.executions.c.run_id.not_in(deleted_runs)))
            )}
            doomed = [a for a in candidates if a not in used_elsewhere]
            if not dry_run:
                stamp = now_ms()
                if doomed:
                    conn.execute(update(t.artifacts).where(t.artifacts.c.id.in_(doomed))
                                 .values(state=DELETED, update_time=stamp))
                properties = {**record.properties, "state_before_delete": record.state, "deleted_time": stamp}
                conn.execute(update(t.contexts).where(t.contexts.c.id == record.id).values(
                    state=RUN_DELETED, update_time=stamp, properties=json.dumps(properties, default=str)))
        deleted = [self.get_artifact(a) for a in doomed]
        kept = [self.get_artifact(a) for a in sorted(used_elsewhere)]
        return self.get_run(record.id), deleted, kept

    # -- executions -----------------------------------------------------------------------------------

    def start_execution(
        self,
        *,
        run_id: int,
        component_id: str,
        component_type: str,
        fingerprint: str | None,
        parameters: str,
        inputs: dict[str, Artifact],
        log_uri: str | None = None,
        stamp: int | None = None,
    ) -> int:
        """Record a RUNNING execution and its input events; returns the execution id."""
        stamp = stamp or now_ms()
        with self._write() as conn:
            execution_id = self._insert_execution(
                conn, stamp, inputs, run_id=run_id, component_id=component_id, component_type=component_type,
                state=RUNNING, fingerprint=fingerprint, parameters=parameters, log_uri=log_uri,
            )
        return execution_id

    def _insert_execution(self, conn: Connection, stamp: int, inputs: dict[str, Artifact], **values: Any) -> int:
        """Insert one execution row (recording this process as its runner) and its input events."""
        execution_id = _inserted_id(conn.execute(
            _INSERT_EXECUTION,
            {"attempts": 0, "host": self._host, "pid": os.getpid(), "create_time": stamp, "start_time": stamp,
             "end_time": None, "cached_from": None, "log_uri": None, "error": None, **values},
        ))
        self._insert_events(conn, execution_id, "INPUT", {k: v.id for k, v in inputs.items()}, stamp)
        return execution_id

    @staticmethod
    def _insert_events(
        conn: Connection, execution_id: int, kind: str, artifact_ids: dict[str, int | None], stamp: int
    ) -> None:
        rows = [
            {"artifact_id": artifact_id, "execution_id": execution_id, "type": kind, "name": name, "time": stamp}
            for name, artifact_id in artifact_ids.items()
            if artifact_id is not None
        ]
        if len(rows) == 1:  # one row: skip SQLAlchemy's executemany machinery
            conn.execute(_INSERT_EVENT, rows[0])
        elif rows:
            conn.execute(_INSERT_EVENT, rows)

    def publish_execution(
        self, execution_id: int, outputs: dict[str, Artifact], *, attempts: int = 1, state: str = COMPLETE,
        error: str | None = None, stamp: int | None = None,
    ) -> dict[str, Artifact]:
        """In one transaction: record the output artifacts LIVE, their output events, the execution COMPLETE.

        The artifacts' files must already be at their final URIs. Returns the artifacts with ids set.
        A component that closed a gate publishes its outputs with ``state=FAILED`` and the gate's message.
        """
        stamp = stamp or now_ms()
        published: dict[str, Artifact] = {}
        with self._write() as conn:
            for name, artifact in outputs.items():
                artifact_id = _inserted_id(conn.execute(
                    insert(t.artifacts).values(
                        type_id=self._type_id(conn, artifact.TYPE_NAME),
                        uri=artifact.uri,
                        state=LIVE,
                        name=name,
                        fingerprint=artifact.fingerprint,
                        properties=json.dumps(artifact.properties, sort_keys=True, default=str),
                        producer_execution_id=execution_id,
                        create_time=stamp,
                        update_time=stamp,
                    )
                ))
                artifact.id = artifact_id
                artifact.state = LIVE
                artifact.name = name
                published[name] = artifact
            self._insert_events(conn, execution_id, "OUTPUT", {k: v.id for k, v in published.items()}, stamp)
            conn.execute(
                update(t.executions)
                .where(t.executions.c.id == execution_id)
                .values(state=state, end_time=stamp, error=error, attempts=attempts)
            )
        return published

    def finish_execution(
        self, execution_id: int, state: str, error: str | None = None, *, attempts: int | None = None,
        stamp: int | None = None,
    ) -> None:
        """Mark an execution FAILED, CANCELED or ABANDONED (it published nothing)."""
        values: dict[str, Any] = {"state": state, "end_time": stamp or now_ms(), "error": error}
        if attempts is not None:
            values["attempts"] = attempts
        with self._write() as conn:
            conn.execute(update(t.executions).where(t.executions.c.id == execution_id).values(**values))

    def record_cached_execution(
        self,
        *,
        run_id: int,
        component_id: str,
        component_type: str,
        fingerprint: str,
        parameters: str,
        inputs: dict[str, Artifact],
        outputs: dict[str, Artifact],
        cached_from: int,
        stamp: int | None = None,
    ) -> int:
        """Record a CACHED execution reusing ``outputs`` of execution ``cached_from``, in one transaction."""
        stamp = stamp or now_ms()
        with self._write() as conn:
            execution_id = self._insert_execution(
                conn, stamp, inputs, run_id=run_id, component_id=component_id, component_type=component_type,
                state=CACHED, fingerprint=fingerprint, cached_from=cached_from, parameters=parameters, end_time=stamp,
            )
            self._insert_events(conn, execution_id, "OUTPUT", {k: v.id for k, v in outputs.items()}, stamp)
        return execution_id

    def record_skipped_execution(
        self, *, run_id: int, component_id: str, component_type: str, parameters: str, reason: str,
        stamp: int | None = None,
    ) -> int:
        """Record a SKIPPED execution (its condition was false) with the reason, in one transaction."""
        stamp = stamp or now_ms()
        with self._write() as conn:
            return self._insert_execution(
                conn, stamp, {}, run_id=run_id, component_id=component_id, component_type=component_type,
                state=SKIPPED, fingerprint=None, parameters=parameters, end_time=stamp, error=reason,
            )

    def find_cached(self, fingerprint: str) -> tuple[int, dict[str, Artifact]] | None:
        """The newest COMPLETE execution with this fingerprint whose outputs are all LIVE and on disk."""
        query = (
            select(t.executions.c.id)
            .where(and_(t.executions.c.fingerprint == fingerprint, t.executions.c.state == COMPLETE))
            .order_by(t.executions.c.id.desc())
            .limit(5)
        )
        with self._read() as conn:
            candidates = [row.id for row in conn.execute(query)]
            found = self._artifacts_of(conn, candidates, "OUTPUT")
        for execution_id in candidates:
            outputs = found.get(execution_id, {})
            if all(a.state == LIVE and _exists(a.uri) for a in outputs.values()):
                return execution_id, outputs
        return None

    @staticmethod
    def _execution_record(
        row: Any, inputs: dict[str, Artifact] | None = None, outputs: dict[str, Artifact] | None = None
    ) -> ExecutionRecord:
        return ExecutionRecord(
            id=row.id,
            run_id=row.run_id,
            component_id=row.component_id,
            component_type=row.component_type,
            state=row.state,
            fingerprint=row.fingerprint,
            cached_from=row.cached_from,
            parameters=json.loads(row.parameters or "{}"),
            log_uri=row.log_uri,
            error=row.error,
            attempts=row.attempts,
            host=row.host,
            pid=row.pid,
            create_time=row.create_time,
            start_time=row.start_time,
            end_time=row.end_time,
            inputs=inputs or {},
            outputs=outputs or {},
        )

    def _artifacts_of(self, conn: Connection, execution_ids: list[int], kind: str) -> dict[int, dict[str, Artifact]]:
        if not execution_ids:
            return {}
        query = (
            select(t.events.c.execution_id, t.events.c.name.label("event_name"), t.artifacts,
                   t.artifact_types.c.name.label("type_name"),
                   t.executions.c.component_id.label("producer"))
            .select_from(
                t.events.join(t.artifacts, t.events.c.artifact_id == t.artifacts.c.id)
                .join(t.artifact_types, t.artifacts.c.type_id == t.artifact_types.c.id)
                .outerjoin(t.executions, t.artifacts.c.producer_execution_id == t.executions.c.id)
            )
            .where(and_(t.events.c.execution_id.in_(execution_ids), t.events.c.type == kind))
        )
        result: dict[int, dict[str, Artifact]] = {}
        for row in conn.execute(query):
            result.setdefault(row.execution_id, {})[row.event_name] = self._artifact(row)
        return result

    @staticmethod
    def _artifact(row: Any) -> Artifact:
        cls = artifact_class(row.type_name)
        artifact = cls(
            row.uri,
            json.loads(row.properties or "{}"),
            id=row.id,
            fingerprint=row.fingerprint,
            state=row.state,
            name=row.name,
            producer=getattr(row, "producer", None),
        )
        if cls is Artifact:  # a type whose class is not imported here keeps its recorded name
            artifact.TYPE_NAME = row.type_name  # type: ignore[misc]
        return artifact

    def executions(self, run_id: int, *, with_artifacts: bool = True) -> list[ExecutionRecord]:
        """All executions of a run, oldest first."""
        with self._read() as conn:
            query = select(t.executions).where(t.executions.c.run_id == run_id).order_by(t.executions.c.id)
            rows = list(conn.execute(query))
            ids = [row.id for row in rows]
            inputs = self._artifacts_of(conn, ids, "INPUT") if with_artifacts else {}
            outputs = self._artifacts_of(conn, ids, "OUTPUT") if with_artifacts else {}
        return [self._execution_record(row, inputs.get(row.id), outputs.get(row.id)) for row in rows]

    def get_execution(self, execution_id: int) -> ExecutionRecord:
        with self._read() as conn:
            row = conn.execute(select(t.executions).where(t.executions.c.id == execution_id)).first()
            if row is None:
                raise NotFoundError(f"No execution {execution_id} in the metadata store at {redact_url(self.url)}.")
            inputs = self._artifacts_of(conn, [row.id], "INPUT").get(row.id)
            outputs = self._artifacts_of(conn, [row.id], "OUTPUT").get(row.id)
        return self._execution_record(row, inputs, outputs)

    def successful_execution(self, run_id: int, component_id: str) -> ExecutionRecord | None:
        """The latest COMPLETE or CACHED execution of a component in a run, with its artifacts."""
        with self._read() as conn:
            row = conn.execute(
                select(t.executions)
                .where(and_(t.executions.c.run_id == run_id, t.executions.c.component_id == component_id,
                            t.executions.c.state.in_(SUCCESSFUL)))
                .order_by(t.executions.c.id.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            inputs = self._artifacts_of(conn, [row.id], "INPUT").get(row.id)
            outputs = self._artifacts_of(conn, [row.id], "OUTPUT").get(row.id)
        return self._execution_record(row, inputs, outputs)

    def abandon_stale_executions(self, run_id: int) -> list[ExecutionRecord]:
        """Mark RUNNING executions of a run whose process is gone as ABANDONED; return them.

        Raises StoreError if one is still running in a live process on this host.
        """
        stale: list[ExecutionRecord] = []
        for record in self.executions(run_id, with_artifacts=False):
            if record.state != RUNNING:
                continue
            elsewhere = record.pid is not None and record.pid != os.getpid()
            if record.host == self._host and elsewhere and record.pid is not None and _pid_alive(record.pid):
                raise StoreError(
                    f"Execution {record.id} ({record.component_id}) of this run is still running in process "
                    f"{record.pid} on {record.host}. Wait for it or stop that process before resuming."
                )
            self.finish_execution(record.id, ABANDONED, "the runner process stopped before the execution finished")
            stale.append(record)
        return stale

    # -- artifacts and lineage ------------------------------------------------------------------------

    def _artifact_query(self) -> Any:
        type_name, producer = t.artifact_types.c.name.label("type_name"), t.executions.c.component_id.label("producer")
        columns = (t.artifacts, type_name, producer)
        return select(*columns).select_from(
            t.artifacts.join(t.artifact_types, t.artifacts.c.type_id == t.artifact_types.c.id)
            .outerjoin(t.executions, t.artifacts.c.producer_execution_id == t.executions.c.id)
        )

    def get_artifact(self, artifact_id: int) -> Artifact:
        with self._read() as conn:
            row = conn.execute(self._artifact_query().where(t.artifacts.c.id == artifact_id)).first()
        if row is None:
            raise NotFoundError(
                f"No artifact {artifact_id} in the metadata store at {redact_url(self.url)}. "
                "List artifacts with `sluiceway artifacts list`."
            )
        return self._artifact(row)

    def list_artifacts(self, type_name: str | None = None, limit: int = 100) -> list[Artifact]:
        query = self._artifact_query().order_by(t.artifacts.c.id.desc()).limit(limit)
        if type_name:
            query = query.where(t.artifact_types.c.name == type_name)
        with self._read() as conn:
            return [self._artifact(row) for row in conn.execute(query)]

    def artifact_types(self) -> list[str]:
        with self._read() as conn:
            return [row.name for row in conn.execute(select(t.artifact_types.c.name).order_by(t.artifact_types.c.name))]

    def lineage(self, artifact_id: int, max_depth: int = 20) -> Lineage:
        """What produced the artifact (and from what, transitively) and what consumed it (transitively)."""
        artifact = self.get_artifact(artifact_id)
        with self._read() as conn:
            upstream = self._walk(conn, artifact_id, upstream=True, max_depth=max_depth)
            downstream = self._walk(conn, artifact_id, upstream=False, max_depth=max_depth)
        return Lineage(artifact, upstream, downstream)

    def _walk(self, conn: Connection, artifact_id: int, *, upstream: bool, max_depth: int) -> list[LineageNode]:
        # Upstream: artifact <-OUTPUT- execution -INPUT-> artifacts ... ; downstream mirrors it.
        first_kind, next_kind = ("OUTPUT", "INPUT") if upstream else ("INPUT", "OUTPUT")
        seen_executions: set[int] = set()
        frontier = {artifact_id}
        found: list[tuple[int, int]] = []
        for depth in range(1, max_depth + 1):
            if not frontier:
                break
            execution_ids = {
                row.execution_id
                for row in conn.execute(
                    select(t.events.c.execution_id).where(
                        and_(t.events.c.artifact_id.in_(frontier), t.events.c.type == first_kind)
                    )
                )
            } - seen_executions
            if not execution_ids:
                break
            seen_executions |= execution_ids
            found.extend((eid, depth) for eid in sorted(execution_ids))
            frontier = {
                row.artifact_id
                for row in conn.execute(
                    select(t.events.c.artifact_id).where(
                        and_(t.events.c.execution_id.in_(execution_ids), t.events.c.type == next_kind)
                    )
                )
            }
        if not found:
            return []
        ids = [eid for eid, _ in found]
        rows = {row.id: row for row in conn.execute(select(t.executions).where(t.executions.c.id.in_(ids)))}
        run_ids = {r.run_id for r in rows.values()}
        run_query = select(t.contexts.c.id, t.contexts.c.name).where(t.contexts.c.id.in_(run_ids))
        run_names = dict(conn.execute(run_query).all())
        inputs = self._artifacts_of(conn, ids, "INPUT")
        outputs = self._artifacts_of(conn, ids, "OUTPUT")
        return [
            LineageNode(
                self._execution_record(rows[eid], inputs.get(eid), outputs.get(eid)),
                run_names.get(rows[eid].run_id, "?"),
                depth,
            )
            for eid, depth in found
        ]

    def count(self, table: str) -> int:
        """Row count of one table (tests and diagnostics)."""
        target = getattr(t, table)
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(target)).scalar_one()


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _create_sqlite_store(url: str, path: Path) -> bool:
    """Create a new SQLite store at ``path`` all at once: built beside it, then hard-linked into place.

    SQLite creates a file empty and writes its header only later, so a store created in place would be,
    for a moment, the 0-byte file that other processes must refuse. Linking fails if another process
    got there first; then its store is used (and checked as any existing store). True if this call created it.
    """
    temp = path.with_name(f".{path.name}.creating-{os.getpid()}-{threading.get_ident()}")
    engine = create_engine(f"sqlite:///{temp}")
    try:
        with engine.begin() as conn:
            _upgrade(conn)
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        temp.unlink(missing_ok=True)
        raise store_error(url, exc, "create") from exc
    finally:
        engine.dispose()
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False  # another process created the store first: it is opened and checked like any other
    except OSError:  # a file system without hard links: a rename, unless the store appeared meanwhile
        if path.exists():
            return False
        os.replace(temp, path)
        return True
    finally:
        temp.unlink(missing_ok=True)


def _inserted_id(result: Any) -> int:
    """The primary key of the row an INSERT just added."""
    key = result.inserted_primary_key
    if key is None:  # every insert here is a single row with an integer key: this would be a bug
        raise StoreError("The metadata store did not return the id of an inserted row.")
    return int(key[0])


def _exists(uri: str) -> bool:
    if "://" in uri and not uri.startswith("file://"):
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        return fs.exists(path)
    return os.path.exists(uri.removeprefix("file://"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed child not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
