"""The metadata store's tables: the ML Metadata data model (artifact, execution, context, event).

Times are integer milliseconds since the epoch (as in ML Metadata); properties are JSON text so the same
schema works on SQLite and PostgreSQL. The Alembic migrations in ``migrations/`` create and evolve these
tables; change both together.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

artifact_types = Table(
    "artifact_types",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
)

contexts = Table(
    "contexts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type", String(64), nullable=False),  # "pipeline" or "pipeline_run"
    Column("name", String(255), nullable=False),
    Column("parent_id", Integer, ForeignKey("contexts.id"), nullable=True),  # a run's pipeline
    Column("state", String(32), nullable=True),  # runs: RUNNING, COMPLETE, FAILED, CANCELED
    Column("properties", Text, nullable=False, default="{}"),
    Column("create_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    UniqueConstraint("type", "name", name="uq_contexts_type_name"),
)

executions = Table(
    "executions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("contexts.id"), nullable=False),  # the association with its run
    Column("component_id", String(255), nullable=False),
    Column("component_type", String(512), nullable=False),
    Column("state", String(32), nullable=False),  # RUNNING, COMPLETE, CACHED, FAILED, CANCELED, ABANDONED, SKIPPED
    Column("fingerprint", String(64), nullable=True),  # the cache key
    Column("cached_from", Integer, ForeignKey("executions.id"), nullable=True),
    Column("parameters", Text, nullable=False, default="{}"),
    Column("log_uri", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("create_time", BigInteger, nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Index("ix_executions_run", "run_id", "component_id"),
    Index("ix_executions_fingerprint", "fingerprint", "state"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("type_id", Integer, ForeignKey("artifact_types.id"), nullable=False),
    Column("uri", Text, nullable=False),
    Column("state", String(32), nullable=False),  # LIVE, DELETED
    Column("name", String(255), nullable=True),  # the producing output's name
    Column("fingerprint", String(64), nullable=True),  # content hash
    Column("properties", Text, nullable=False, default="{}"),
    Column("producer_execution_id", Integer, ForeignKey("executions.id"), nullable=True),
    Column("create_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    Index("ix_artifacts_type", "type_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id"), nullable=False),
    Column("execution_id", Integer, ForeignKey("executions.id"), nullable=False),
    Column("type", String(16), nullable=False),  # INPUT or OUTPUT
    Column("name", String(255), nullable=False),  # the input or output key
    Column("time", BigInteger, nullable=False),
    Index("ix_events_artifact", "artifact_id"),
    Index("ix_events_execution", "execution_id"),
)

store_info = Table(
    "store_info",
    metadata,
    Column("key", String(64), primary_key=True),  # e.g. "min_sluiceway_version" (see migrations/__init__.py)
    Column("value", Text, nullable=False),
)
