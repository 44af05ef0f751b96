"""The local runner: the DAG in dependency order, independent components in parallel threads.

Each component runs in a daemon worker thread. Ctrl-C reaches the main thread, which cancels the run at
once instead of waiting for the running components: it records their executions CANCELED, discards their
staging folders and raises ``RunInterrupted``. A worker still inside its executor finishes in the
background (or dies with the process) but never records or publishes anything (see
``execute.Cancellation``).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sluiceway.artifacts.base import Artifact
from sluiceway.config import Settings, load_settings
from sluiceway.data.engine import ENGINE_NAMES, check_engine_spec
from sluiceway.dsl.component import Component
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import ComponentError, DefinitionError, NotFoundError, RunError, StoreError
from sluiceway.metadata.store import (
    CANCELED,
    COMPLETE,
    FAILED,
    RUN_DELETED,
    RUNNING,
    SKIPPED,
    SUCCESSFUL,
    ExecutionRecord,
    MetadataStore,
    RunRecord,
)
from sluiceway.runners.execute import Cancellation, ExecutionTarget, execute_component, last_frames
from sluiceway.runners.hooks import RunHooks, progress_hooks
from sluiceway.runners.recovery import cancel_if_recorded, cancel_run, reclaim_unfinished, settle_leftovers
from sluiceway.storage import open_root
from sluiceway.storage.roots import log_root_of

logger = logging.getLogger(__name__)
# Downstream of a failed or canceled component: never executed, not recorded (a resume runs it). Hooks see
# it as SKIPPED; a component whose condition was false is recorded SKIPPED instead, and the run completes.
NOT_RUN = "NOT_RUN"
SETTLED = (*SUCCESSFUL, SKIPPED)  # what lets downstream components proceed (a skip propagates as a skip)
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run. Says what was recorded, so a caller can tell the user what really happened.

    ``run_name`` is None when the interrupt came before the run was recorded (nothing to resume);
    otherwise the run is recorded CANCELED and ``--resume run_name`` continues it.
    """

    def __init__(self, run_name: str | None) -> None:
        self.run_name = run_name
        self.recorded = run_name is not None
        if run_name is None:
            message = "interrupted before the run was recorded: nothing ran and there is nothing to resume"
        else:
            message = f"interrupted: run {run_name!r} is recorded CANCELED; continue it with --resume {run_name}"
        super().__init__(message)


@dataclass
class Run:
    """The outcome of a run: its state and, per component, the execution that counts."""

    id: int
    name: str
    pipeline: str
    state: str
    executions: dict[str, ExecutionRecord] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # components that could not even be executed

    def __getitem__(self, component_id: str) -> ExecutionRecord:
        try:
            return self.executions[component_id]
        except KeyError:
            raise NotFoundError(self._why_missing(component_id)) from None

    def _why_missing(self, component_id: str) -> str:
        if component_id in self.not_run:
            return (
                f"Component {component_id!r} did not run in run {self.name!r} ({self.state}): an upstream "
                "component failed, was canceled or closed its gate. See `sluiceway runs show " + self.name + "`."
            )
        if component_id in self.errors:
            return f"Component {component_id!r} could not be executed in run {self.name!r}: {self.errors[component_id]}"
        known = sorted({*self.executions, *self.not_run, *self.errors})
        return f"Run {self.name!r} has no component {component_id!r}. Its components: {known}."

    def outputs(self, component_id: str) -> dict[str, Artifact]:
        execution = self[component_id]
        if execution.state not in SUCCESSFUL and not execution.outputs:
            raise RunError(
                f"Component {component_id!r} {execution.state} in run {self.name!r}, so it has no outputs"
                + (f": {last_frames(execution.error, 0).strip()}" if execution.error else ".")
                + (f" Log: {execution.log_uri}" if execution.log_uri else "")
            )
        return execution.outputs

    def output(self, component_id: str, name: str) -> Artifact:
        outputs = self.outputs(component_id)
        if name not in outputs:
            raise NotFoundError(
                f"Component {component_id!r} has no output {name!r} in run {self.name!r}. "
                f"Its outputs: {sorted(outputs)}."
            )
        return outputs[name]

    @property
    def succeeded(self) -> bool:
        return self.state == COMPLETE

    def raise_for_status(self) -> Run:
        """Return the run if it completed; otherwise raise the error that stopped it, with its context.

        A failed component raises ``ComponentError`` naming the component, the run, its log file and the
        last frames of its traceback; a canceled run or one that could not schedule a component raises
        ``RunError``.
        """
        if self.succeeded:
            return self
        failed = [e for e in self.executions.values() if e.state == FAILED]
        if failed:
            first = failed[0]
            others = f" ({len(failed) - 1} other component(s) failed too)" if len(failed) > 1 else ""
            raise ComponentError(
                f"Component {first.component_id!r} failed in run {self.name!r} (execution {first.id}){others}.\n"
                f"{last_frames(first.error or '').rstrip()}\n"
                f"Log: {first.log_uri}. Fix it and continue with --resume {self.name}."
            )
        if self.errors:
            component_id, message = next(iter(self.errors.items()))
            raise RunError(
                f"Run {self.name!r} {self.state}: component {component_id!r} could not be executed: {message}"
            )
        raise RunError(f"Run {self.name!r} is {self.state}. Continue it with --resume {self.name}.")


def new_run_name(pipeline: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{pipeline}-{stamp}-{uuid.uuid4().hex[:4]}"


def check_run_name(name: Any, where: str = "run_name") -> str:
    """Run names become folder names (logs): letters, digits, '_', '-', '.', not starting with '.' or '-'."""
    if not isinstance(name, str) or not _RUN_NAME.match(name):
        raise DefinitionError(
            f"The {where!r} must be 1 to 200 letters, digits, '_', '-' or '.', starting with a letter or digit "
            f"(it names a folder of logs under the artifact root). Got {name!r} instead."
        )
    return name


def open_store(store: MetadataStore | str | None, settings: Settings) -> MetadataStore:
    if isinstance(store, MetadataStore):
        return store
    return MetadataStore(store or settings.store)


class LocalRunner:
    """Run pipelines on this machine.

    ``LocalRunner(store=..., artifact_root=..., parallelism=..., cache=..., hooks=[...])``; unset arguments
    come from the settings (``sluiceway.toml``, ``SLUICEWAY_*``, defaults: ``./.sluiceway/``).
    ``engine`` (``"local"``, ``"ray"`` or an Engine) runs the components' data work there, unless a
    component sets its own; it overrides ``Pipeline(engine=...)``.
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
        engine: Any = None,
    ) -> None:
        check_engine_spec(engine, "The 'engine' parameter of LocalRunner")
        self.engine = engine
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

    def execute(
        self,
        target: ExecutionTarget,
        component: Component,
        *,
        cancel: Cancellation,
        upstream: dict[str, ExecutionRecord],
    ) -> ExecutionRecord:
        """Run one ready component (called from a scheduler thread). The Celery runner sends it to a worker."""
        return execute_component(target, component, cancel=cancel, upstream=upstream)

    def _hook(self, hooks: list[RunHooks], method: str, **kwargs: Any) -> None:
        for hook in hooks:
            try:
                getattr(hook, method)(**kwargs)
            except Exception:  # noqa: BLE001 - a broken progress display must not break a run
                logger.exception("hook %s.%s failed", type(hook).__name__, method)

    def run(
        self,
        pipeline: Pipeline,
        *,
        run_name: str | None = None,
        resume: str | None = None,
        progress: bool | RunHooks | None = None,
    ) -> Run:
        """Run the pipeline (or resume a run: only what did not complete runs again); returns the Run.

        ``progress=True`` prints the same progress lines as ``sluiceway run``; the default (None) shows
        them in a Jupyter notebook and not elsewhere. Ctrl-C cancels the run within a second and raises
        ``RunInterrupted`` (a ``KeyboardInterrupt``). A resumed run keeps the settings it was started with
        (caching, artifact root); ``cache=False`` on the resuming runner still turns caching off.
        """
        if not isinstance(pipeline, Pipeline):
            raise RunError(f"LocalRunner.run expects a Pipeline, got {type(pipeline).__name__}.")
        if run_name is not None:
            check_run_name(run_name)
        hooks = [*self.hooks, *progress_hooks(progress)]
        store = self.store
        name = resume if resume is not None else run_name or new_run_name(pipeline.name)
        try:
            if resume is not None:
                record, target, done = self._prepare_resume(store, pipeline, resume)
            else:
                record = store.create_run(pipeline.name, name, self._run_properties(pipeline))
                target = ExecutionTarget.from_settings(
                    self.settings, store=store, pipeline=pipeline, run=record, engine=self.engine
                )
                done = {}
        except KeyboardInterrupt:
            raise RunInterrupted(cancel_if_recorded(store, name)) from None
        return self._schedule(pipeline, target, done, hooks)

    def _run_properties(self, pipeline: Pipeline) -> dict[str, Any]:
        # What --resume needs to continue the run as it was started, and what `runs show` reports.
        return {
            "dag": pipeline.describe(),
            "parallelism": self.settings.parallelism,
            "cache": self.settings.cache,
            "artifact_root": self.settings.artifact_root,
            "engine": engine_label(self.engine if self.engine is not None else pipeline.engine),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _prepare_resume(
        self, store: MetadataStore, pipeline: Pipeline, resume: str
    ) -> tuple[RunRecord, ExecutionTarget, dict[str, ExecutionRecord]]:
        record = store.get_run(resume)
        check_not_deleted(record)
        if record.pipeline != pipeline.name:
            raise RunError(
                f"Run {record.name!r} belongs to pipeline {record.pipeline!r}, not {pipeline.name!r}. "
                "Resume it with the pipeline that started it."
            )
        recorded_root = record.properties.get("artifact_root") or self.settings.artifact_root
        if recorded_root != self.settings.artifact_root:
            logger.warning(
                "run %s keeps its artifact root %s (not %s)", record.name, recorded_root, self.settings.artifact_root
            )
        cache = bool(record.properties.get("cache", True)) and self.settings.cache
        store.abandon_stale_executions(record.id)
        reclaim_unfinished(store, record, pipeline, open_root(recorded_root, self.settings.cache_dir))
        done: dict[str, ExecutionRecord] = {}
        for component in pipeline.components:
            previous = store.successful_execution(record.id, component.id)
            if previous is not None:
                done[component.id] = previous
        store.set_run_state(record.id, RUNNING, {"resumed_at": time.time(), "pid": os.getpid()})
        target = ExecutionTarget(
            store=store,
            pipeline=pipeline,
            run=record,
            artifact_root=recorded_root,
            log_root=log_root_of(recorded_root, self.settings.cache_dir),
            cache=cache,
            engine=self.engine if self.engine is not None else _recorded_engine(record),
            cache_dir=self.settings.cache_dir,
        )
        return record, target, done

    def _schedule(
        self, pipeline: Pipeline, target: ExecutionTarget, done: dict[str, ExecutionRecord], hooks: list[RunHooks]
    ) -> Run:
        record = target.run
        cancel = Cancellation()
        scheduler = _Scheduler(self, pipeline, target, done, hooks, cancel)
        try:
            self._hook(hooks, "on_run_start", run_name=record.name, pipeline=pipeline, reused=sorted(done))
            scheduler.loop()
            state = scheduler.final_state()
            settle_leftovers(target.store, record, FAILED, "the runner could not record how this execution ended")
            target.store.set_run_state(record.id, state)
        except KeyboardInterrupt:
            cancel_run(target, cancel)
            self._hook(hooks, "on_run_end", run_name=record.name, state=CANCELED)
            raise RunInterrupted(record.name) from None
        except BaseException:
            cancel_run(target, cancel, state=FAILED, reason="the runner stopped on an error")
            raise
        self._hook(hooks, "on_run_end", run_name=record.name, state=state)
        return Run(
            record.id, record.name, pipeline.name, state, scheduler.executions, scheduler.not_run(), scheduler.errors
        )


class _Scheduler:
    """Start components whose upstream succeeded, up to ``parallelism`` at once; collect their results."""

    def __init__(
        self,
        runner: LocalRunner,
        pipeline: Pipeline,
        target: ExecutionTarget,
        done: dict[str, ExecutionRecord],
        hooks: list[RunHooks],
        cancel: Cancellation,
    ) -> None:
        self.runner = runner
        self.pipeline = pipeline
        self.target = target
        self.hooks = hooks
        self.cancel = cancel
        self.states: dict[str, str] = {cid: rec.state for cid, rec in done.items()}
        self.executions: dict[str, ExecutionRecord] = dict(done)
        self.errors: dict[str, str] = {}
        self.pending: list[Component] = [c for c in pipeline.components if c.id not in self.states]
        self.running: dict[str, float] = {}
        self.results: queue.Queue[tuple[Component, ExecutionRecord | None, BaseException | None]] = queue.Queue()

    def loop(self) -> None:
        run_name = self.target.run.name
        parallelism = self.runner.settings.parallelism
        while self.pending or self.running:
            for component in list(self.pending):
                upstream_states = [self.states.get(u.id) for u in component.upstream]
                if any(s in (FAILED, CANCELED, NOT_RUN) for s in upstream_states):
                    self.pending.remove(component)
                    self.states[component.id] = NOT_RUN
                    self.runner._hook(
                        self.hooks,
                        "on_component_end",
                        run_name=run_name,
                        component_id=component.id,
                        state=SKIPPED,
                        duration_s=0.0,
                        error=None,
                    )
                elif all(s in SETTLED for s in upstream_states) and len(self.running) < parallelism:
                    self.pending.remove(component)
                    self.runner._hook(self.hooks, "on_component_start", run_name=run_name, component_id=component.id)
                    self.start(component)
            if not self.running:
                break
            # Blocks until a worker reports; a signal (Ctrl-C) interrupts the wait at once.
            component, execution, exc = self.results.get()
            started = self.running.pop(component.id)
            error: str | None
            if execution is not None:
                self.executions[component.id] = execution
                self.states[component.id] = execution.state
                error = execution.error
            else:
                logger.error("component %s could not be executed: %s", component.id, exc)
                self.states[component.id] = FAILED
                error = str(exc)
                self.errors[component.id] = error
            self.runner._hook(
                self.hooks,
                "on_component_end",
                run_name=run_name,
                component_id=component.id,
                state=self.states[component.id],
                duration_s=time.perf_counter() - started,
                error=error,
            )

    def start(self, component: Component) -> None:
        known = {u.id: self.executions[u.id] for u in component.upstream if u.id in self.executions}
        target, cancel, results = self.target, self.cancel, self.results

        def work() -> None:
            try:
                outcome = self.runner.execute(target, component, cancel=cancel, upstream=known)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which reports it
                results.put((component, None, exc))
                return
            results.put((component, outcome, None))

        self.running[component.id] = time.perf_counter()
        # Daemon: an interrupted run must not keep the interpreter alive until the component ends.
        threading.Thread(target=work, name=f"sluiceway-{component.id}", daemon=True).start()

    def not_run(self) -> list[str]:
        return [cid for cid, state in self.states.items() if state == NOT_RUN]

    def final_state(self) -> str:
        return COMPLETE if all(self.states.get(c.id) in SETTLED for c in self.pipeline.components) else FAILED


def engine_label(engine: Any) -> str:
    """How a run records its engine: ``"local"``, ``"ray"`` or the Engine's repr."""
    if engine is None:
        return "local"
    return engine if isinstance(engine, str) else repr(engine)


def _recorded_engine(record: RunRecord) -> str | None:
    """A resumed run keeps the engine it was started with, when that was a name ('local', 'ray')."""
    recorded = record.properties.get("engine")
    return recorded if recorded in ENGINE_NAMES and recorded != "local" else None


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
    check_run_name(run_name, "--run")
    store = MetadataStore(settings.store)
    try:
        record = store.get_run(run_name)
    except NotFoundError:
        try:
            record = store.create_run(
                pipeline.name,
                run_name,
                {"dag": pipeline.describe(), "artifact_root": settings.artifact_root, "cache": settings.cache},
            )
        except StoreError:  # another task created it at the same moment
            record = store.get_run(run_name)
    check_not_deleted(record)
    if record.pipeline != pipeline.name:
        raise RunError(f"Run {run_name!r} belongs to pipeline {record.pipeline!r}, not {pipeline.name!r}.")
    return store, record


def check_not_deleted(record: RunRecord) -> None:
    """A deleted run is not resumed or extended: its artifacts are marked DELETED (``sluiceway runs delete``)."""
    if record.state == RUN_DELETED:
        raise RunError(
            f"Run {record.name!r} was deleted (`sluiceway runs delete`), so it cannot be resumed or extended. "
            "Start a new run; unchanged components whose outputs another run still uses come from the cache."
        )


def update_run_state_after_exec(
    store: MetadataStore, pipeline: Pipeline, record: RunRecord, execution: ExecutionRecord
) -> None:
    """Orchestrated runs have no runner process: each task settles the run's state when it can."""
    if execution.state == FAILED:
        store.set_run_state(record.id, FAILED)
        return
    latest = {e.component_id: e.state for e in store.executions(record.id, with_artifacts=False)}
    if all(latest.get(c.id) in SETTLED for c in pipeline.components):
        store.set_run_state(record.id, COMPLETE)
