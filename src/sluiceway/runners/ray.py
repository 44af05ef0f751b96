"""The Ray runner: the local runner's scheduler, each ready component run as a Ray task on a cluster.

``RayRunner(address="127.0.0.1:6379").run("path/to/pipeline.py")`` schedules like ``LocalRunner``
(dependency order, parallelism, caching, resume, progress hooks, Ctrl-C), but each component runs as one
Ray task that reserves the component's ``resources=`` (``{"num_cpus": 2, "num_gpus": 1, "memory": 4e9,
"my_resource": 1}``; default: Ray's one CPU), so steps that need a GPU or much memory land on a node that
has it. The task runs the component as ``sluiceway exec`` does: it loads the pipeline from the same target,
against the run's metadata store and artifact root, which every node must reach (PostgreSQL and a shared
folder or ``s3://`` for several machines; a SQLite store and a local folder only work when every worker
is on this machine). Results and failures come back through the store: the task returns only the
execution's id.

The cluster: ``address``, else ``RAY_ADDRESS``, else the Ray instance this process already joined, else
a new local one (see ``sluiceway.data.ray_engine.RayEngine``, whose connection this runner shares). The
workers must import ``sluiceway`` and the pipeline's own modules (install them on the cluster, or pass
``runtime_env``); a pipeline file is passed to them by its absolute path.

How Sluiceway maps onto Ray:
- Retries are the component's own, inside its task (``retries``, ``retry_backoff``, as under the local
  runner); the Ray task has ``max_retries=0``. A Ray retry happens only when the worker dies, and it would
  start a second execution while the first one stayed RUNNING in the store.
- A lost worker or node (``WorkerCrashedError``, ``NodeDiedError``, Ray's out-of-memory killer) ends the
  component: its execution is recorded ABANDONED, the run FAILED with a ``RunError`` naming the component
  and the cluster; ``--resume`` runs it again.
- Resources are checked against the cluster's live nodes before anything runs: a component that asks for
  more than any node has (``num_gpus=1`` on a CPU-only cluster) raises ``RunError`` at once instead of
  waiting forever for a node (a cluster that adds nodes on demand must have them up first).
- Ctrl-C records the run CANCELED (as the local runner does) and cancels the tasks in flight
  (``ray.cancel`` raises ``KeyboardInterrupt`` inside the component, which records itself CANCELED and
  removes its staging folder). Ray delivers it at the component's next Python step: one blocked in a long
  call into C is killed with its worker after ``CANCEL_GRACE_SECONDS`` and recorded CANCELED here.
- ``engine=``: the components' data work, as under the local runner; ``"ray"`` fans it out from the
  component's task as further tasks on the same cluster.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from sluiceway.config import Settings
from sluiceway.data.ray_engine import RayEngine
from sluiceway.dsl.component import RAY_RESOURCE_OPTIONS, Component
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import ConfigError, RunError
from sluiceway.metadata.store import ABANDONED, CANCELED, RUNNING, ExecutionRecord
from sluiceway.metadata.urls import redact_text, redact_url
from sluiceway.runners.execute import INTERRUPTED, Cancellation, ExecutionTarget
from sluiceway.runners.hooks import RunHooks
from sluiceway.runners.dispatch import DispatchingRunner
from sluiceway.runners.local import Run

logger = logging.getLogger(__name__)
CANCEL_GRACE_SECONDS = 5.0
# Ray's names for the resources its task options set; any other name is a custom resource.
_CLUSTER_NAMES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}
_remote_cache: dict[str, Any] = {}


def exec_component_task(
    *, pipeline: str, component: str, run: str, store: str, artifact_root: str, cache: bool, engine: Any
) -> dict[str, Any]:
    """The Ray task: run one component of one run, as ``sluiceway exec`` does; returns its execution's id."""
    from sluiceway.config import load_settings
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.runners.execute import execute_component
    from sluiceway.runners.local import run_for_exec

    settings = load_settings(store=store, artifact_root=artifact_root, cache=cache)
    loaded = load_pipeline(pipeline)
    metadata, record = run_for_exec(settings, loaded, run)
    try:
        target = ExecutionTarget.from_settings(settings, store=metadata, pipeline=loaded, run=record, engine=engine)
        execution = execute_component(target, loaded.component(component))
    finally:
        metadata.close()
    return {"execution_id": execution.id, "state": execution.state}


def task_options(resources: dict[str, float]) -> dict[str, Any]:
    """A component's ``resources=`` as Ray task options: num_cpus, num_gpus, memory, then custom ones."""
    options: dict[str, Any] = {name: resources[name] for name in RAY_RESOURCE_OPTIONS if name in resources}
    custom = {name: amount for name, amount in resources.items() if name not in RAY_RESOURCE_OPTIONS}
    if custom:
        options["resources"] = custom
    # No Ray retries: the component retries inside its task; a lost worker is recorded, not rerun (see above).
    return {**options, "max_retries": 0}


def cluster_request(resources: dict[str, float]) -> dict[str, float]:
    """What one task of the component reserves, in the cluster's resource names (Ray's default: 1 CPU)."""
    request = {"CPU": 1.0}
    for name, amount in resources.items():
        request[_CLUSTER_NAMES.get(name, name)] = float(amount)
    return {name: amount for name, amount in request.items() if amount > 0}


class RayRunner(DispatchingRunner):
    """Run pipelines with each component as a Ray task on a cluster (see the module docstring).

    ``RayRunner(address=None, runtime_env=None, **LocalRunner's)``; ``run(target, ...)`` takes the pipeline's
    target (path/to/pipeline.py, file.py:attr or module:attr), which the workers load too.
    ``runtime_env`` is passed to ``ray.init`` when this runner is the one that connects the process (as
    ``RayEngine``'s). One run at a time per runner.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        runtime_env: dict[str, Any] | None = None,
        store: str | None = None,
        artifact_root: str | os.PathLike[str] | None = None,
        parallelism: int | None = None,
        cache: bool | None = None,
        hooks: list[RunHooks] | tuple[RunHooks, ...] = (),
        settings: Settings | None = None,
        engine: Any = None,
    ) -> None:
        super().__init__(
            store=store,
            artifact_root=artifact_root,
            parallelism=parallelism,
            cache=cache,
            hooks=hooks,
            settings=settings,
            engine=engine,
        )
        self.cluster = RayEngine(address, runtime_env=runtime_env)  # checks the address; connects on first run
        self._in_flight: dict[str, Any] = {}  # component id -> its task's ObjectRef
        self._lock = threading.Lock()

    workers = "the Ray workers"

    @property
    def where(self) -> str:
        return f"the Ray cluster at {self.cluster.address}" if self.cluster.address else "the local Ray instance"

    def prepare(self, target: str, pipeline: Pipeline) -> str:
        ray = self.cluster.connect()
        self._check_store_reachable(ray)
        self._check_resources(ray, pipeline)
        return absolute_target(target)

    def execute(
        self,
        target: ExecutionTarget,
        component: Component,
        *,
        cancel: Cancellation,
        upstream: dict[str, ExecutionRecord],
    ) -> ExecutionRecord:
        """Run the component as a Ray task and wait for it; the execution is read from the store."""
        ray = self.cluster.connect()
        if cancel.is_set():
            raise RunError(f"The run was canceled before component {component.id!r} was sent to {self.where}.")
        ref = (
            _remote(ray)
            .options(**task_options(component.resources))
            .remote(
                pipeline=self._target,
                component=component.id,
                run=target.run.name,
                store=target.store.url,
                artifact_root=str(target.artifact_root),
                cache=target.cache,
                engine=target.engine,
            )
        )
        with self._lock:
            self._in_flight[component.id] = ref
        try:
            outcome = ray.get(ref)
        except ray.exceptions.TaskCancelledError as exc:
            raise RunError(
                f"The Ray task of component {component.id!r} was canceled (the run was interrupted)."
            ) from exc
        except ray.exceptions.RayTaskError as exc:  # the task itself raised: the pipeline or store failed there
            cause = exc.cause if exc.cause is not None else exc
            raise RunError(
                f"Component {component.id!r} could not be executed on {self.where}: {type(cause).__name__}: "
                f"{redact_text(str(cause))}"
            ) from exc
        except ray.exceptions.RayError as exc:  # the worker, its node or its memory was lost
            if cancel.is_set():  # killed by the run's own Ctrl-C: recorded CANCELED by _cancel_in_flight
                raise RunError(
                    f"The Ray task of component {component.id!r} was stopped (the run was interrupted)."
                ) from exc
            raise self._lost(target, component, exc) from exc
        finally:
            with self._lock:
                self._in_flight.pop(component.id, None)
        return target.store.get_execution(int(outcome["execution_id"]))

    def _lost(self, target: ExecutionTarget, component: Component, exc: BaseException) -> RunError:
        """Record the execution a dead worker left RUNNING as ABANDONED; the error that fails the component."""
        what = type(exc).__name__
        reason = f"its Ray worker on {self.where} was lost ({what})"
        abandoned = []
        for execution in target.store.executions(target.run.id, with_artifacts=False):
            if execution.component_id == component.id and execution.state == RUNNING:
                target.store.finish_execution(execution.id, ABANDONED, reason)
                target.storage.discard_staging(execution.id)
                abandoned.append(str(execution.id))
        recorded = f" Execution {', '.join(abandoned)} is recorded ABANDONED." if abandoned else ""
        detail = redact_text(str(exc)).strip().rstrip(".")
        return RunError(
            f"Component {component.id!r} did not finish: {reason}: {detail}.{recorded} "
            f"Check the cluster (`ray status`; a worker killed for memory needs a larger resources={{'memory': ...}}) "
            f"and continue with --resume {target.run.name}."
        )

    def _schedule(
        self, pipeline: Pipeline, target: ExecutionTarget, done: dict[str, ExecutionRecord], hooks: list[RunHooks]
    ) -> Run:
        try:
            return super()._schedule(pipeline, target, done, hooks)
        except BaseException:  # Ctrl-C or a runner error: the local runner recorded the run; stop the tasks
            self._cancel_in_flight(target)
            raise

    def _cancel_in_flight(self, target: ExecutionTarget) -> None:
        """Cancel the tasks still running (each records itself CANCELED); kill and record those that linger."""
        with self._lock:
            in_flight = dict(self._in_flight)
        if not in_flight:
            return
        try:
            ray = self.cluster.connect()
            refs = list(in_flight.values())
            for ref in refs:
                ray.cancel(ref)
            _, lingering = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_SECONDS)
            for ref in lingering:
                ray.cancel(ref, force=True)
            for execution in target.store.executions(target.run.id, with_artifacts=False):
                if execution.component_id in in_flight and execution.state == RUNNING:
                    target.store.finish_execution(execution.id, CANCELED, INTERRUPTED)
                    target.storage.discard_staging(execution.id)
        except Exception as exc:  # noqa: BLE001 - the interrupt or error already propagating is what counts
            logger.error("could not cancel the Ray tasks of %s: %s", sorted(in_flight), redact_text(str(exc)))

    def _check_resources(self, ray: Any, pipeline: Pipeline) -> None:
        """Refuse a component no live node can ever run: its task would wait for that node forever."""
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        for component in pipeline.components:
            request = cluster_request(component.resources)
            if any(all(node["Resources"].get(k, 0.0) >= v for k, v in request.items()) for node in nodes):
                continue
            asked = ", ".join(f"{k}={v:g}" for k, v in (component.resources or {"num_cpus": 1}).items())
            have = "; ".join(
                f"{node.get('NodeManagerAddress', '?')}: "
                + ", ".join(f"{k} {node['Resources'].get(k, 0.0):g}" for k in request)
                for node in nodes
            )
            raise RunError(
                f"Component {component.id!r} asks for {asked} (resources=), but no node of {self.where} has that "
                f"much: {have or 'no live node'}. Lower its resources=, add a node that has them, or use "
                "another runner."
            )

    def _check_store_reachable(self, ray: Any) -> None:
        """A SQLite store is a file on this machine: workers on other machines cannot write it."""
        if not self.settings.store.startswith("sqlite"):
            return
        here = socket.gethostname()
        elsewhere = sorted({
            str(node.get("NodeManagerHostname")) for node in ray.nodes()
            if node.get("Alive") and node.get("NodeManagerHostname") not in (here, None)
        })  # fmt: skip
        if elsewhere:
            raise ConfigError(
                f"The metadata store {redact_url(self.settings.store)} is a SQLite file on this machine "
                f"({here}), but {self.where} has nodes on {', '.join(elsewhere)}, whose workers cannot write it. "
                "Use a PostgreSQL store (--store / SLUICEWAY_STORE) and an artifact root every node reaches."
            )


def absolute_target(target: str) -> str:
    """A pipeline file's target with an absolute path: Ray workers do not share this process's folder."""
    location, colon, attribute = target.partition(":")
    if (location.endswith(".py") or "/" in location) and Path(location).is_file():
        return f"{Path(location).resolve()}{colon}{attribute}"
    return target


def _remote(ray: Any) -> Any:
    remote = _remote_cache.get("exec_component")
    if remote is None:
        remote = _remote_cache["exec_component"] = ray.remote(exec_component_task)
    return remote


__all__ = ["RayRunner", "absolute_target", "cluster_request", "exec_component_task", "task_options"]
