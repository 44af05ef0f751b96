"""The Celery runner: the local runner's scheduler, each ready component sent as a Celery task to workers.

``CeleryRunner(broker="redis://host:6379/0").run("path/to/pipeline.py")`` schedules like ``LocalRunner``
(dependency order, parallelism, caching, resume, progress hooks), but each component runs on whichever
Celery worker takes its message, in the same way as ``sluiceway exec``: against the shared metadata store
and artifact root (both must be reachable from every worker: PostgreSQL and a shared folder or ``s3://``
for several machines). Workers load the pipeline from the same target, relative to their working folder.
Results and failures come back through the store: the task returns only the execution's id.

Start workers with::

    SLUICEWAY_CELERY_BROKER=redis://host:6379/0 celery -A sluiceway.runners.celery worker

How Sluiceway maps onto Celery:
- Retries are Celery's (``task.retry``, countdown = the component's ``retry_backoff`` doubled after each
  try, so a retry may run on another worker); the execution itself is tried once per Celery try.
- A lost worker (killed, machine gone): tasks are acknowledged late and rejected on worker loss
  (``acks_late``, ``reject_on_worker_lost``), so the broker gives the message to another worker once the
  visibility timeout passes (``visibility_timeout``, default 1 hour: it must exceed the longest component,
  or a task still running is delivered twice). The redelivered task records the lost execution ABANDONED.
- Time limits: ``timeout_seconds`` becomes the task's soft time limit (the component fails with
  ``SoftTimeLimitExceeded`` and is retried like any failure), plus a hard limit ``kill_after_seconds``
  (default 60) later: Celery kills the pool process of a component that outlives it, and the runner records
  that execution FAILED (nobody else can: its process is gone).
- Cancellation: Ctrl-C records the run CANCELED (as the local runner does), sends nothing more and revokes
  the run's tasks that no worker has started (an error that stops the runner does the same, recording the
  run FAILED). A component already running on a worker finishes there and records its own outcome;
  ``--resume`` reuses it if it completed. (Terminating it is not safe: pool processes ignore SIGINT,
  SIGUSR1 is Celery's soft time limit, and a killed pool process counts as a lost worker, whose message a
  worker that never heard of the revocation would run again.) Celery keeps revocations in the memory of
  the workers connected at that moment, so the task also checks the run's state before it starts: a
  queued task of a CANCELED or FAILED run that reaches a worker started later does not run either.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from sluiceway.config import Settings
from sluiceway.dsl.component import Component
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import ConfigError, MissingExtraError, RunError
from sluiceway.metadata.store import ExecutionRecord
from sluiceway.metadata.urls import redact_text
from sluiceway.runners.execute import Cancellation, ExecutionTarget
from sluiceway.runners.hooks import RunHooks
from sluiceway.runners.dispatch import DispatchingRunner

logger = logging.getLogger(__name__)
TASK_NAME = "sluiceway.exec_component"
BROKER_ENV = "SLUICEWAY_CELERY_BROKER"
VISIBILITY_TIMEOUT_ENV = "SLUICEWAY_CELERY_VISIBILITY_TIMEOUT"
DEFAULT_VISIBILITY_TIMEOUT = 3600.0
KILL_AFTER_SECONDS = 60  # hard time limit after the soft one: time to record the failure
STOPPED = ("CANCELED", "FAILED")  # run states in which a task that was still queued must not start


def make_app(broker: str, *, backend: str | None = None, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> Any:
    """A Celery app with Sluiceway's task registered; runners and workers build theirs with the same settings."""
    try:
        from celery import Celery
    except ImportError as exc:
        raise MissingExtraError("the Celery runner", "celery", "celery") from exc
    if not broker:
        raise ConfigError(
            f"The Celery runner needs a broker URL (e.g. redis://127.0.0.1:6379/0): pass --broker or set {BROKER_ENV}."
        )
    if not visibility_timeout > 0:
        raise ConfigError(f"The visibility timeout must be a number of seconds > 0. Got {visibility_timeout!r}.")
    app = Celery("sluiceway", broker=broker, backend=backend or broker, set_as_current=False)
    transport: dict[str, Any] = {"visibility_timeout": visibility_timeout}
    if visibility_timeout < 60:  # short timeouts (tests): look for lost messages often enough to notice
        transport.update(unacked_restore_interval=max(1.0, visibility_timeout / 5), unacked_restore_throttle=1)
    app.conf.update(
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a worker holds only the message it runs: the others stay free for others
        worker_hijack_root_logger=False,
        result_expires=7 * 24 * 3600,
    )
    app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)(exec_component_task)
    return app


def exec_component_task(
    task: Any, *, pipeline: str, component: str, run: str, store: str, artifact_root: str, cache: bool
) -> dict[str, Any]:
    """The Celery task: run one component of one run, as ``sluiceway exec`` does; returns its execution's id.

    Returns no id (and runs nothing) when the run was stopped while the message waited in the queue.
    """
    from sluiceway.config import load_settings
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.metadata.store import ABANDONED, FAILED, RUNNING
    from sluiceway.runners.execute import execute_component
    from sluiceway.runners.local import run_for_exec

    settings = load_settings(store=store, artifact_root=artifact_root, cache=cache)
    loaded = load_pipeline(pipeline)
    node = loaded.component(component)
    retries, backoff = node.retries, node.retry_backoff
    node.retries = 0  # Celery owns the retries: each try is one Celery delivery
    metadata, record = run_for_exec(settings, loaded, run)
    if record.state in STOPPED:
        # The runner stopped the run while this message waited. Revocation reaches only the workers connected
        # at that moment (Celery keeps revoked ids in memory): a worker started or restarted since then runs
        # the message unless the task itself refuses. --resume sets the run RUNNING again before sending.
        metadata.close()
        logger.warning("not running component %s: run %s is %s", component, run, record.state)
        return {"execution_id": None, "state": record.state}
    try:
        if (task.request.delivery_info or {}).get("redelivered"):
            # The broker gave this message again: the worker that held it was lost with its execution.
            for lost in metadata.executions(record.id, with_artifacts=False):
                if lost.component_id == component and lost.state == RUNNING:
                    metadata.finish_execution(lost.id, ABANDONED, "the Celery worker running it was lost")
        target = ExecutionTarget.from_settings(settings, store=metadata, pipeline=loaded, run=record)
        execution = execute_component(target, node)
    finally:
        metadata.close()
    closed_gate = execution.state == FAILED and bool(execution.outputs)  # a gate's outputs are published: no retry
    if execution.state == FAILED and not closed_gate and task.request.retries < retries:
        raise task.retry(countdown=backoff * (2**task.request.retries), max_retries=retries)
    return {"execution_id": execution.id, "state": execution.state}


class CeleryRunner(DispatchingRunner):
    """Run pipelines with components executed by Celery workers (see the module docstring).

    ``CeleryRunner(broker=..., backend=None, visibility_timeout=3600, timeout_seconds=None,
    kill_after_seconds=60, **LocalRunner's)``;
    ``run(target, ...)`` takes the pipeline's target (path/to/pipeline.py, file.py:attr or module:attr),
    which the workers load too. One run at a time per runner.
    """

    def __init__(
        self,
        *,
        broker: str | None = None,
        backend: str | None = None,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        timeout_seconds: float | None = None,
        kill_after_seconds: float = KILL_AFTER_SECONDS,
        store: str | None = None,
        artifact_root: str | os.PathLike[str] | None = None,
        parallelism: int | None = None,
        cache: bool | None = None,
        hooks: list[RunHooks] | tuple[RunHooks, ...] = (),
        settings: Settings | None = None,
    ) -> None:
        super().__init__(
            store=store, artifact_root=artifact_root, parallelism=parallelism, cache=cache, hooks=hooks,
            settings=settings,
        )
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise ConfigError(f"timeout_seconds must be a number of seconds > 0. Got {timeout_seconds!r} instead.")
        if not kill_after_seconds > 0:
            raise ConfigError(
                f"kill_after_seconds must be a number of seconds > 0. Got {kill_after_seconds!r} instead."
            )
        self.app = make_app(broker or os.environ.get(BROKER_ENV, ""), backend=backend,
                            visibility_timeout=visibility_timeout)
        self.timeout_seconds = timeout_seconds
        self.kill_after_seconds = kill_after_seconds
        self._outstanding: dict[str, Any] = {}
        self._stopping = False  # set once the run stopped: nothing more is sent
        self._lock = threading.Lock()
        self._results_lock = threading.Lock()

    def prepare(self, target: str, pipeline: Pipeline) -> str:
        self._stopping = False
        return target  # as given: workers load it relative to their own working folder

    def stopped(self) -> None:
        self._revoke_outstanding()

    def execute(
        self,
        target: ExecutionTarget,
        component: Component,
        *,
        cancel: Cancellation,
        upstream: dict[str, ExecutionRecord],
    ) -> ExecutionRecord:
        """Send the component to a worker and wait for its Celery task; the execution is read from the store."""
        limits: dict[str, float] = {}
        if self.timeout_seconds is not None:
            hard = self.timeout_seconds + self.kill_after_seconds
            limits = {"soft_time_limit": self.timeout_seconds, "time_limit": hard}
        # Sending and registering happen under the lock that _revoke_outstanding takes: a component whose
        # thread was started just before Ctrl-C is either registered (and revoked) or never sent.
        with self._lock:
            if self._stopping or cancel.is_set():
                raise RunError(f"Run {target.run.name!r} stopped before component {component.id!r} was sent.")
            result = self.app.send_task(
                TASK_NAME,
                kwargs={
                    "pipeline": self._target,
                    "component": component.id,
                    "run": target.run.name,
                    "store": target.store.url,
                    "artifact_root": str(target.artifact_root),
                    "cache": target.cache,
                },
                **limits,
            )
            self._outstanding[result.id] = result
        try:
            # Celery's result consumer is not thread-safe: one scheduler thread waits on it at a time.
            outcome = self._wait(result)
        finally:
            with self._lock:
                self._outstanding.pop(result.id, None)
        if not isinstance(outcome, dict) or not outcome.get("execution_id"):
            from celery.exceptions import TimeLimitExceeded

            # Only the hard time limit kills a task's process with no one left to record its execution. A
            # task revoked while it runs (Ctrl-C) goes on and records its own outcome: nothing to settle here.
            killed = self._record_killed(target, component, outcome) if isinstance(outcome, TimeLimitExceeded) else None
            if killed is not None:
                return killed
            raise RunError(
                f"The Celery task of component {component.id!r} (task {result.id}) failed on its worker before "
                f"recording an execution: {outcome!r}. See the worker's log."
            )
        return target.store.get_execution(int(outcome["execution_id"]))

    def _record_killed(self, target: ExecutionTarget, component: Component, outcome: Any) -> ExecutionRecord | None:
        """The task failed after its execution started (the hard time limit killed its process): record it.

        Only this run's RUNNING executions of the component are settled: the task's failure is final (Celery
        does not redeliver a task it killed for its time limit), and the process that would record it is gone.
        """
        from sluiceway.metadata.store import FAILED, RUNNING

        store, reason = target.store, f"the Celery task failed on its worker: {outcome!r}"
        running = [
            e for e in store.executions(target.run.id, with_artifacts=False)
            if e.component_id == component.id and e.state == RUNNING
        ]
        for execution in running:
            store.finish_execution(execution.id, FAILED, reason)
        return store.get_execution(running[-1].id) if running else None

    def _wait(self, result: Any) -> Any:
        from celery.exceptions import TimeoutError as CeleryTimeout

        while True:
            with self._results_lock:
                try:
                    return result.get(timeout=1.0, propagate=False)
                except CeleryTimeout:
                    pass  # not finished yet: wait again, after letting the other scheduler threads wait on theirs
                except Exception as exc:  # noqa: BLE001 - the broker or result backend failed: a typed error
                    raise RunError(f"Waiting for Celery task {result.id} failed: {redact_text(str(exc))}") from exc

    def _revoke_outstanding(self) -> None:
        with self._lock:
            self._stopping = True  # (the run's Cancellation is set too on Ctrl-C, but not on every error)
            outstanding = list(self._outstanding.values())
        for result in outstanding:
            try:
                result.revoke()
            except Exception as exc:  # noqa: BLE001 - the interrupt is what the caller must see
                logger.error("could not revoke Celery task %s: %s", result.id, exc)


def __getattr__(name: str) -> Any:
    """``celery -A sluiceway.runners.celery worker`` finds ``app``: built on first use from the environment."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = _worker_app()
    globals()["app"] = app
    return app


def _worker_app() -> Any:
    timeout = os.environ.get(VISIBILITY_TIMEOUT_ENV)
    try:
        visibility = float(timeout) if timeout else DEFAULT_VISIBILITY_TIMEOUT
    except ValueError as exc:
        raise ConfigError(f"{VISIBILITY_TIMEOUT_ENV} must be a number of seconds. Got {timeout!r}.") from exc
    return make_app(os.environ.get(BROKER_ENV, ""), visibility_timeout=visibility)
