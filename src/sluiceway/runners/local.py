"""The local runner: the DAG in dependency order, independent components in parallel threads."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sluiceway.artifacts.base import Artifact
from sluiceway.config import Settings, load_settings
from sluiceway.dsl.component import Component
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import RunError
from sluiceway.metadata.store import (
    CANCELED,
    COMPLETE,
    FAILED,
    RUNNING,
    SUCCESSFUL,
    ExecutionRecord,
    MetadataStore,
    RunRecord,
)
from sluiceway.runners import publish
from sluiceway.runners.execute import ExecutionTarget, execute_component
from sluiceway.runners.hooks import RunHooks

logger = logging.getLogger(__name__)
SKIPPED = "SKIPPED"


@dataclass
class Run:
    """The outcome of a run: its state and, per component, the execution that counts."""

    id: int
    name: str
    pipeline: str
    state: str
    executions: dict[str, ExecutionRecord] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)

    def __getitem__(self, component_id: str) -> ExecutionRecord:
        try:
            return self.executions[component_id]
        except KeyError:
            raise KeyError(
                f"Component {component_id!r} has no successful or failed execution in run {self.name!r}"
                + (f" (not run: {self.not_run})" if self.not_run else "")
            ) from None

    def outputs(self, component_id: str) -> dict[str, Artifact]:
        return self[component_id].outputs

    def output(self, component_id: str, name: str) -> Artifact:
        return self[component_id].outputs[name]

    @property
    def succeeded(self) -> bool:
        return self.state == COMPLETE


def new_run_name(pipeline: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{pipeline}-{stamp}-{uuid.uuid4().hex[:4]}"


def open_store(store: MetadataStore | str | None, settings: Settings) -> MetadataStore:
    if isinstance(store, MetadataStore):
        return store
    return MetadataStore(store or settings.store)


class LocalRunner:
    """Run pipelines on this machine.

    ``LocalRunner(store=..., artifact_root=..., parallelism=..., cache=..., hooks=[...])``; unset arguments
    come from the settings (``sluiceway.toml``, ``SLUICEWAY_*``, defaults: ``./.sluiceway/``).
    """

    def __init__(
        self,
        *,
        store: MetadataStore | str | None = None,
        artifact_root: str | os.PathLike[str] | None = None,
        parallelism: int | None = None,
        cache: bool | None = None,
        hooks: list[RunHooks] | tuple[RunHooks, ...] = (),
        settings: Settings | None = None,
    ) -> None:
        base = settings or load_settings()
        self.settings = base.with_overrides(
            store=store if isinstance(store, str) else None,
            artifact_root=str(artifact_root) if artifact_root is not None else None,
            parallelism=parallelism,
            cache=cache,
        )
        self._store_arg = store if isinstance(store, MetadataStore) else None
        self._store: MetadataStore | None = None
        self.hooks = list(hooks)

    @property
    def store(self) -> MetadataStore:
        if self._store is None:
            self._store = self._store_arg or MetadataStore(self.settings.store)
        return self._store

    def _hook(self, method: str, **kwargs: Any) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, method)(**kwargs)
            except Exception:  # noqa: BLE001 - a broken progress display must not break a run
                logger.exception("hook %s.%s failed", type(hook).__name__, method)

    def run(self, pipeline: Pipeline, *, run_name: str | None = None, resume: str | None = None) -> Run:
        """Run the pipeline (or resume a run: only what did not complete runs again); returns the Run."""
        if not isinstance(pipeline, Pipeline):
            raise RunError(f"LocalRunner.run expects a Pipeline, got {type(pipeline).__name__}.")
        store = self.store
        done: dict[str, ExecutionRecord] = {}
        if resume is not None:
            record = store.get_run(resume)
            if record.pipeline != pipeline.name:
                raise RunError(
                    f"Run {record.name!r} belongs to pipeline {record.pipeline!r}, not {pipeline.name!r}. "
                    "Resume it with the pipeline that started it."
                )
            for stale in store.abandon_stale_executions(record.id):
                publish.discard(publish.staging_dir(self.settings.artifact_root, stale.id))
            for component in pipeline.components:
                previous = store.successful_execution(record.id, component.id)
                if previous is not None:
                    done[component.id] = previous
            store.set_run_state(record.id, RUNNING, {"resumed_at": time.time(), "pid": os.getpid()})
        else:
            record = store.create_run(
                pipeline.name,
                run_name or new_run_name(pipeline.name),
                {
                    "dag": pipeline.describe(),
                    "parallelism": self.settings.parallelism,
                    "cache": self.settings.cache,
                    "artifact_root": self.settings.artifact_root,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
            )
        target = ExecutionTarget(
            store=store,
            pipeline=pipeline,
            run=record,
            artifact_root=Path(self.settings.artifact_root),
            log_root=self.settings.log_root,
            cache=self.settings.cache,
        )
        return self._schedule(pipeline, target, done)

    def _schedule(self, pipeline: Pipeline, target: ExecutionTarget, done: dict[str, ExecutionRecord]) -> Run:
        store, record = target.store, target.run
        self._hook("on_run_start", run_name=record.name, pipeline=pipeline, reused=sorted(done))
        states: dict[str, str] = {cid: rec.state for cid, rec in done.items()}
        executions: dict[str, ExecutionRecord] = dict(done)
        pending: list[Component] = [c for c in pipeline.components if c.id not in states]
        running: dict[Future[ExecutionRecord], tuple[Component, float]] = {}
        cancel = threading.Event()
        pool = ThreadPoolExecutor(max_workers=self.settings.parallelism, thread_name_prefix="sluiceway")
        try:
            while pending or running:
                for component in list(pending):
                    upstream_states = [states.get(u.id) for u in component.upstream]
                    if any(s in (FAILED, CANCELED, SKIPPED) for s in upstream_states):
                        pending.remove(component)
                        states[component.id] = SKIPPED
                        self._hook("on_component_end", run_name=record.name, component_id=component.id,
                                   state=SKIPPED, duration_s=0.0, error=None)
                    elif all(s in SUCCESSFUL for s in upstream_states) and len(running) < self.settings.parallelism:
                        pending.remove(component)
                        self._hook("on_component_start", run_name=record.name, component_id=component.id)
                        known = {u.id: executions[u.id] for u in component.upstream if u.id in executions}
                        future = pool.submit(execute_component, target, component, cancel=cancel, upstream=known)
                        running[future] = (component, time.perf_counter())
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    component, started = running.pop(future)
                    error: str | None = None
                    try:
                        execution = future.result()
                        executions[component.id] = execution
                        states[component.id] = execution.state
                        error = execution.error
                    except Exception as exc:  # noqa: BLE001 - input resolution or store trouble for this component
                        logger.error("component %s could not be executed: %s", component.id, exc)
                        states[component.id] = FAILED
                        error = str(exc)
                    self._hook("on_component_end", run_name=record.name, component_id=component.id,
                               state=states[component.id], duration_s=time.perf_counter() - started, error=error)
        except BaseException:
            cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)
            for execution in store.executions(record.id, with_artifacts=False):
                if execution.state == RUNNING and execution.pid == os.getpid():
                    store.finish_execution(execution.id, CANCELED, "the run was interrupted")
            store.set_run_state(record.id, CANCELED)
            self._hook("on_run_end", run_name=record.name, state=CANCELED)
            raise
        pool.shutdown(wait=True)
        not_run = [cid for cid, state in states.items() if state == SKIPPED]
        state = COMPLETE if all(states.get(c.id) in SUCCESSFUL for c in pipeline.components) else FAILED
        store.set_run_state(record.id, state)
        self._hook("on_run_end", run_name=record.name, state=state)
        return Run(record.id, record.name, pipeline.name, state, executions, not_run)


def run_record_to_run(store: MetadataStore, record: RunRecord) -> Run:
    """Rebuild a Run from the store (for `runs show` and the Python API)."""
    executions: dict[str, ExecutionRecord] = {}
    for execution in store.executions(record.id):
        executions[execution.component_id] = execution  # the latest execution of each component wins
    dag = record.properties.get("dag", {}).get("components", [])
    not_run = [c["id"] for c in dag if c["id"] not in executions]
    return Run(record.id, record.name, record.pipeline, record.state, executions, not_run)


def run_for_exec(settings: Settings, pipeline: Pipeline, run_name: str) -> tuple[MetadataStore, RunRecord]:
    """The run a `sluiceway exec` task belongs to, created by the first task that needs it."""
    from sluiceway.errors import NotFoundError, StoreError

    store = MetadataStore(settings.store)
    try:
        record = store.get_run(run_name)
    except NotFoundError:
        try:
            record = store.create_run(pipeline.name, run_name, {"dag": pipeline.describe(), "artifact_root": settings.artifact_root})
        except StoreError:  # another task created it at the same moment
            record = store.get_run(run_name)
    if record.pipeline != pipeline.name:
        raise RunError(f"Run {run_name!r} belongs to pipeline {record.pipeline!r}, not {pipeline.name!r}.")
    return store, record


def update_run_state_after_exec(store: MetadataStore, pipeline: Pipeline, record: RunRecord, execution: ExecutionRecord) -> None:
    """Orchestrated runs have no runner process: each task settles the run's state when it can."""
    if execution.state == FAILED:
        store.set_run_state(record.id, FAILED)
    elif all(store.successful_execution(record.id, c.id) is not None for c in pipeline.components):
        store.set_run_state(record.id, COMPLETE)
