"""Execute one component of a run against the shared stores.

This is the single place where a component runs: the local runner calls it from its worker threads and
``sluiceway exec`` (the entry point of Airflow, Kubeflow and Ray tasks) calls it in its own process.
Steps: skip the component (a SKIPPED execution with the reason) if an upstream component was skipped;
check that every upstream component (data, ``after=`` and the condition's) succeeded in this run; skip it
if its ``when=`` condition is false; resolve inputs; fingerprint; reuse a cached execution if allowed;
otherwise run the executor into staging folders, with retries, and publish.

Every execution this module records ends in a final state (COMPLETE, FAILED or CANCELED) unless the
process itself dies, which ``--resume`` and ``sluiceway gc`` settle later: a failure while preparing the
staging folder or the log file, or while publishing, is recorded FAILED with what went wrong.

Test-only fault points: ``SLUICEWAY_TEST_FAULT=<point>:<action>`` makes the process misbehave at a named
point, so the fault probes can hit windows too short to reach with a timer. Points: ``log-header``
(writing the log file's first line), ``after-rename`` (after the outputs were renamed to their final
URIs, before the store records them), ``publish-record`` (the store transaction that records them).
``point#N:action`` acts the N-th time the point is reached. Actions: ``stop`` (write the file named by
``SLUICEWAY_TEST_FAULT_MARKER``, then stop the process with
SIGSTOP, the calling thread first, so the test can SIGKILL it there), ``enospc`` (raise "No space left on device").
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import json
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from sluiceway.artifacts.base import Artifact
from sluiceway.config import Settings
from sluiceway.data.engine import use_engine
from sluiceway.dsl.component import Component, OutputChannel, canonical_parameters, code_fingerprint
from sluiceway.dsl.conditions import stated_reasons
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import GateClosed, RunError, StoreError
from sluiceway.metadata.store import (
    CACHED,
    CANCELED,
    COMPLETE,
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCESSFUL,
    ExecutionRecord,
    MetadataStore,
    RunRecord,
    now_ms,
)
from sluiceway.runners import logs, publish
from sluiceway.storage import ArtifactRoot, open_root

logger = logging.getLogger(__name__)
INTERRUPTED = "the run was interrupted (Ctrl-C) while this execution was running; its outputs were discarded"


@dataclass(frozen=True)
class ExecutionTarget:
    """Everything needed to execute one component of one run.

    ``artifact_root`` is a local folder or a remote fsspec URL; a remote root also needs ``cache_dir``,
    the local folder for its staging folders and downloaded inputs (see ``sluiceway.storage``).
    """

    store: MetadataStore
    pipeline: Pipeline
    run: RunRecord
    artifact_root: Path | str
    log_root: Path
    cache: bool = True
    engine: Any = None  # the run's engine (``--engine``); a component's or the pipeline's setting decides first
    cache_dir: Path | str | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, store: MetadataStore, pipeline: Pipeline, run: RunRecord, engine: Any = None
    ) -> ExecutionTarget:
        """The target of a run under ``settings`` (its artifact root as given: a path or a URL, its cache folder)."""
        return cls(
            store=store,
            pipeline=pipeline,
            run=run,
            artifact_root=settings.artifact_root,
            log_root=settings.log_root,
            cache=settings.cache,
            engine=engine,
            cache_dir=settings.cache_dir,
        )

    @cached_property
    def storage(self) -> ArtifactRoot:
        return open_root(self.artifact_root, self.cache_dir)


@dataclass(frozen=True)
class CurrentExecution:
    """What a running executor may know about where it runs (the Tuner keeps its study beside the store)."""

    store_url: str
    pipeline_name: str
    component_id: str
    execution_id: int
    run_name: str


_current_execution: contextvars.ContextVar[CurrentExecution | None] = contextvars.ContextVar(
    "sluiceway_current_execution", default=None
)


def current_execution() -> CurrentExecution | None:
    """The execution whose executor runs in this thread, or None outside one (a direct call, a test)."""
    return _current_execution.get()


class Cancellation:
    """Shared by a run's main thread and its workers: once set, no execution starts or publishes.

    Workers record a new execution and publish outputs while holding the lock, after checking the flag;
    the main thread sets the flag under the same lock. So after ``cancel()`` returns, every execution is
    either already recorded final or still RUNNING and certain never to publish: the main thread may
    record it CANCELED and discard its staging folder while the worker thread is still inside the executor.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._canceled = False

    def cancel(self) -> None:
        with self._lock:
            self._canceled = True

    def is_set(self) -> bool:
        return self._canceled

    @contextlib.contextmanager
    def unless_canceled(self) -> Iterator[bool]:
        """Hold the lock for a record-or-publish step; yields False (do nothing) once canceled."""
        with self._lock:
            yield not self._canceled


_fault_hits: dict[str, int] = {}
_fault_lock = threading.Lock()


def fault_point(point: str) -> None:
    """Test-only hook (see the module docstring); a dictionary lookup when unused.

    ``point#N:action`` acts the N-th time the process reaches the point (1-based), ``point:action`` the first.
    """
    wanted = os.environ.get("SLUICEWAY_TEST_FAULT")
    if not wanted or not wanted.startswith(point):
        return
    where, action = wanted.split(":", 1)
    name, _, nth = where.partition("#")
    if name != point:
        return
    with _fault_lock:
        _fault_hits[point] = hits = _fault_hits.get(point, 0) + 1
    if hits != int(nth or 1):
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + f" (injected at {point})")
    if action == "stop":
        marker = os.environ.get("SLUICEWAY_TEST_FAULT_MARKER")
        if marker:
            Path(marker).write_text(point, encoding="utf-8")
        # Sent to this thread, not to the process: os.kill(getpid()) lets the kernel hand the stop to the main
        # thread, and until that thread is scheduled this one runs on past the point (under load it copied
        # the Pusher's next file, or recorded what the test expects unrecorded). A thread-directed SIGSTOP is
        # taken on the way out of the call and still stops every thread of the process.
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)


def last_frames(error: str, count: int = 3) -> str:
    """The end of a recorded traceback: its last ``count`` frames and the exception's message.

    ``error`` is the text an execution recorded (a full traceback, or a plain message such as a closed
    gate's, returned whole). ``count=0`` keeps only the exception's message. The CLI and
    ``Run.raise_for_status()`` show this; the whole traceback stays in the record and the log file.
    """
    header = "Traceback (most recent call last):"
    if header not in error:
        return error
    block = error[error.rindex(header) + len(header) :].splitlines()
    frames: list[list[str]] = []
    message_start = len(block)
    for index, line in enumerate(block):
        if line.startswith("  File "):
            frames.append([line])
        elif line.startswith("    ") and frames:
            frames[-1].append(line)
        elif line.strip():
            message_start = index
            break
    kept = [line for frame in (frames[-count:] if count else []) for line in frame]
    message = "\n".join(block[message_start:]).strip()
    return ("\n".join([header, *kept]) + "\n" if kept else "") + message + "\n"


def _channel_artifact(
    target: ExecutionTarget,
    component: Component,
    what: str,
    channel: OutputChannel,
    upstream: Mapping[str, ExecutionRecord] | None,
) -> Artifact:
    """The artifact an output channel holds in this run: an input, or a property a condition reads."""
    producer = channel.producer
    known = upstream.get(producer.id) if upstream else None
    record = (
        known
        if known is not None and known.state in SUCCESSFUL
        else target.store.successful_execution(target.run.id, producer.id)
    )
    if record is None:
        raise RunError(
            f"Component {component.id!r} needs {what} from {producer.id!r}, but {producer.id!r} "
            f"has no completed execution in run {target.run.name!r}. Run {producer.id!r} first "
            f"(sluiceway exec --component {producer.id} --run {target.run.name})."
        )
    artifact = record.outputs.get(channel.name)
    if artifact is None:
        raise RunError(
            f"Component {component.id!r} {what}: the execution {record.id} of {producer.id!r} "
            f"recorded no output {channel.name!r}."
        )
    return artifact


def upstream_skipped(
    target: ExecutionTarget, component: Component, upstream: Mapping[str, ExecutionRecord] | None
) -> str | None:
    """The skip reason when an upstream component's latest execution in this run is SKIPPED, else None."""
    latest: dict[str, ExecutionRecord] | None = None
    for other in component.upstream:
        known = upstream.get(other.id) if upstream else None
        if known is None:
            if latest is None:  # `sluiceway exec`: one query for the whole run
                latest = {e.component_id: e for e in target.store.executions(target.run.id, with_artifacts=False)}
            known = latest.get(other.id)
        if known is not None and known.state == SKIPPED:
            # The upstream's own line carries its reason; repeating it nests once per level downstream.
            return f"upstream {other.id!r} was skipped"
    return None


def condition_false(
    target: ExecutionTarget, component: Component, upstream: Mapping[str, ExecutionRecord] | None
) -> str | None:
    """The skip reason when the component's ``when=`` condition is false in this run, else None.

    Raises ``RunError`` when the condition cannot be evaluated (a property its producer did not set).
    """
    condition = component.condition
    if condition is None:
        return None
    artifacts: dict[int, Artifact] = {}
    for reference in condition.references():
        channel = reference.channel
        artifacts[id(channel)] = _channel_artifact(target, component, f"the condition {condition}", channel, upstream)
    read: list[str] = []
    if condition.evaluate(artifacts, read):
        return None
    details = [  # one entry per artifact that states why (a blessing's failed checks), not one per reason
        f"{artifact.TYPE_NAME} #{artifact.id} says: " + "; ".join(reasons)
        for artifact in artifacts.values()
        if (reasons := stated_reasons(artifact))
    ]
    return f"the condition {condition} is false: " + "; ".join([*read, *details])


def _skipped_record(
    target: ExecutionTarget, component: Component, reason: str, cancel: Cancellation
) -> ExecutionRecord:
    parameters_json = canonical_parameters(component.parameters)
    record = _running_record(target, component, "", parameters_json, {})
    stamp = now_ms()
    with cancel.unless_canceled() as go:
        if not go:
            return replace(record, state=CANCELED, error=INTERRUPTED)
        execution_id = target.store.record_skipped_execution(
            run_id=target.run.id, component_id=component.id, component_type=component.type_name,
            parameters=parameters_json, reason=reason, stamp=stamp,
        )
    return replace(record, id=execution_id, state=SKIPPED, fingerprint=None, error=reason, create_time=stamp,
                   start_time=stamp, end_time=stamp)


def check_upstream(
    target: ExecutionTarget, component: Component, upstream: Mapping[str, ExecutionRecord] | None
) -> None:
    """Refuse to run unless every upstream component (inputs and ``after=``) succeeded in this run.

    The local runner only schedules a component once this holds; ``sluiceway exec`` tasks rely on this
    check so an orchestrator that ignores a dependency or a closed gate cannot run what the local runner
    would have skipped.
    """
    missing: list[str] = []
    failed: list[str] = []
    latest: dict[str, str] | None = None
    for other in component.upstream:
        known = upstream.get(other.id) if upstream else None
        if known is not None and known.state in SUCCESSFUL:
            continue
        if target.store.successful_execution(target.run.id, other.id) is not None:
            continue
        if latest is None:
            latest = {e.component_id: e.state for e in target.store.executions(target.run.id, with_artifacts=False)}
        (failed if other.id in latest else missing).append(other.id)
    if failed:
        states = ", ".join(f"{cid!r} ({latest[cid]})" for cid in failed)  # type: ignore[index]
        raise RunError(
            f"Component {component.id!r} cannot run in run {target.run.name!r}: its upstream {states} did not "
            "succeed, so the local runner would skip it. Fix the upstream and resume the run, or start a new run."
        )
    if missing:
        names = ", ".join(repr(cid) for cid in missing)
        raise RunError(
            f"Component {component.id!r} cannot run yet: its upstream {names} has no completed execution in run "
            f"{target.run.name!r}. Run it first (sluiceway exec --component {missing[0]} --run {target.run.name})."
        )


def resolve_inputs(
    target: ExecutionTarget, component: Component, upstream: Mapping[str, ExecutionRecord] | None = None
) -> dict[str, Artifact]:
    """The artifacts each input channel refers to in this run: the outputs of the upstream executions.

    ``upstream`` holds executions the caller already knows (the local runner's); others are read from
    the store (``sluiceway exec``, where each component runs in its own process).
    """
    from_upstream = {
        name: _channel_artifact(target, component, f"input {name!r}", channel, upstream)
        for name, channel in component.inputs.items()
        if isinstance(channel, OutputChannel)
    }
    resolved: dict[str, Artifact] = {}
    for input_name, channel in component.inputs.items():
        if isinstance(channel, OutputChannel):
            resolved[input_name] = from_upstream[input_name]
            continue
        # a resolver (sluiceway.resolve): found in the store now, knowing the upstream inputs (a baseline
        # resolver skips the candidate); nothing found leaves an optional input out
        artifact = _resolve_from_store(target, component, input_name, channel, from_upstream)
        if artifact is not None:
            resolved[input_name] = artifact
    return resolved


def _resolve_from_store(
    target: ExecutionTarget, component: Component, input_name: str, channel: Any, from_upstream: dict[str, Artifact]
) -> Artifact | None:
    resolve = getattr(channel, "resolve", None)
    if resolve is None:
        raise RunError(f"Component {component.id!r} input {input_name!r}: unsupported channel {channel!r}.")
    artifact = resolve(target.store, pipeline=target.pipeline.name, run=target.run, inputs=dict(from_upstream))
    if artifact is None and not type(component).SPEC.inputs[input_name].optional:
        raise RunError(
            f"Component {component.id!r} input {input_name!r} comes from {channel!r}, which found nothing in the "
            f"metadata store for run {target.run.name!r}. Make the input optional, or run what produces it first."
        )
    return cast("Artifact | None", artifact)


def execution_fingerprint(component: Component, parameters_json: str, inputs: dict[str, Artifact]) -> str:
    """The cache key: the component's identity and code, its parameters and its inputs' fingerprints.

    The component id is part of it, so two identical components in one pipeline each keep their own
    executions (and their own lineage) instead of serving each other from the cache.
    """
    material = {
        "component_id": component.id,
        "type": component.type_name,
        "code": code_fingerprint(cast(Any, type(component))),  # a class is hashable; mypy disagrees
        "parameters": parameters_json,
        "inputs": {name: artifact.fingerprint or f"id:{artifact.id}" for name, artifact in sorted(inputs.items())},
        "extra": component.cache_key(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _running_record(
    target: ExecutionTarget, component: Component, fingerprint: str, parameters_json: str, inputs: dict[str, Artifact]
) -> ExecutionRecord:
    # The returned record is built from what was written, not read back: one query less per component.
    return ExecutionRecord(
        id=0, run_id=target.run.id, component_id=component.id, component_type=component.type_name, state=RUNNING,
        fingerprint=fingerprint, cached_from=None, parameters=json.loads(parameters_json), log_uri=None, error=None,
        attempts=0, host=target.store.host, pid=os.getpid(), create_time=0, start_time=None, end_time=None,
        inputs=inputs,
    )


def execute_component(
    target: ExecutionTarget,
    component: Component,
    *,
    cancel: Cancellation | None = None,
    upstream: Mapping[str, ExecutionRecord] | None = None,
) -> ExecutionRecord:
    """Run (or reuse from the cache, or skip) one component; returns its recorded execution.

    A component whose condition is false, or downstream of a skipped one, is recorded SKIPPED with the
    reason in ``error`` (nothing runs, nothing is published).

    A failing executor does not raise: the execution is recorded FAILED (traceback in ``error`` and in
    the log file) and returned; so is a failure to prepare its staging folder or log file. Errors of the
    stores or of the run's state raise, after recording the execution FAILED when the store still can.
    Once ``cancel`` is set nothing is recorded or published any more: the returned record is CANCELED.
    """
    cancel = cancel or Cancellation()
    store = target.store
    reason = upstream_skipped(target, component, upstream)
    if reason is None:
        check_upstream(target, component, upstream)
        reason = condition_false(target, component, upstream)
    if reason is not None:
        return _skipped_record(target, component, reason, cancel)
    target.storage.check()  # an unusable artifact root fails here, before anything is recorded
    inputs = resolve_inputs(target, component, upstream)
    parameters_json = canonical_parameters(component.parameters)
    fingerprint = execution_fingerprint(component, parameters_json, inputs)
    common: dict[str, Any] = dict(run_id=target.run.id, component_id=component.id, component_type=component.type_name,
                                  fingerprint=fingerprint, parameters=parameters_json, inputs=inputs)
    record = _running_record(target, component, fingerprint, parameters_json, inputs)
    if target.cache and component.cache:
        hit = store.find_cached(fingerprint)
        if hit is not None:
            source_id, outputs = hit
            stamp = now_ms()
            with cancel.unless_canceled() as go:
                if not go:
                    return replace(record, state=CANCELED, error=INTERRUPTED)
                execution_id = store.record_cached_execution(
                    **common, outputs=outputs, cached_from=source_id, stamp=stamp
                )
            return replace(record, id=execution_id, state=CACHED, cached_from=source_id, create_time=stamp,
                           start_time=stamp, end_time=stamp, outputs=outputs)

    log_path = target.log_root / target.run.name / f"{component.id}.log"
    started = now_ms()
    with cancel.unless_canceled() as go:
        if not go:
            return replace(record, state=CANCELED, error=INTERRUPTED)
        execution_id = store.start_execution(**common, log_uri=str(log_path), stamp=started)
    record = replace(record, id=execution_id, log_uri=str(log_path), create_time=started, start_time=started)
    run = _Execution(target, component, record, inputs, cancel)
    try:
        return run.attempts_then_publish()
    except BaseException as exc:
        # Store trouble while publishing, or an interrupt in a caller's thread: never leave it RUNNING.
        run.settle_after(exc)
        raise


class _Execution:
    """One recorded execution from RUNNING to its final state: attempts, retries, publishing."""

    def __init__(
        self,
        target: ExecutionTarget,
        component: Component,
        record: ExecutionRecord,
        inputs: dict[str, Artifact],
        cancel: Cancellation,
    ) -> None:
        self.target = target
        self.component = component
        self.record = record
        self.inputs = inputs
        self.cancel = cancel
        self.attempts = 0
        self.staging = target.storage.staging_dir(record.id)
        self.log_path = Path(record.log_uri or "")
        self.settled = False

    def finished(self, state: str, error: str | None, outputs: dict[str, Artifact] | None = None) -> ExecutionRecord:
        stamp = now_ms()
        store = self.target.store
        if outputs is None:
            store.finish_execution(self.record.id, state, error, attempts=self.attempts, stamp=stamp)
            outputs = {}
        else:
            store.publish_execution(
                self.record.id, outputs, attempts=self.attempts, state=state, error=error, stamp=stamp
            )
        self.settled = True
        return replace(self.record, state=state, error=error, attempts=self.attempts, end_time=stamp, outputs=outputs)

    def canceled(self) -> ExecutionRecord:
        """The run was interrupted: the main thread records this execution CANCELED; only clean up here."""
        publish.discard(self.staging)
        self.settled = True
        return replace(self.record, state=CANCELED, error=INTERRUPTED, attempts=self.attempts)

    def settle_after(self, exc: BaseException) -> None:
        publish.discard(self.staging)
        if self.settled:
            return
        for name in type(self.component).SPEC.outputs:  # renamed but never recorded: not an artifact
            self.discard_final(name)
        state = FAILED if isinstance(exc, Exception) else CANCELED
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        try:
            with self.cancel.unless_canceled() as go:
                if go:
                    self.target.store.finish_execution(self.record.id, state, text, attempts=self.attempts)
        except Exception as store_exc:  # noqa: BLE001 - the original error is re-raised; resume settles the record
            logger.error(
                "could not record execution %s of %s as %s: %s", self.record.id, self.component.id, state, store_exc
            )

    def final_uri(self, output: str) -> str:
        return self.target.storage.final_uri(self.target.pipeline.name, self.component.id, output, self.record.id)

    def discard_final(self, output: str) -> None:
        try:
            self.target.storage.discard_final(self.final_uri(output))
        except StoreError as exc:  # a remote root that cannot be reached now: gc removes the unrecorded prefix
            logger.warning("could not remove the unrecorded output %s: %s", output, exc)

    def prepare(self, outputs: dict[str, Artifact]) -> None:
        for artifact in outputs.values():
            Path(artifact.uri).mkdir(parents=True, exist_ok=True)

    def attempts_then_publish(self) -> ExecutionRecord:
        component = self.component
        self.inputs = self.target.storage.localise(self.inputs)  # remote inputs: complete local copies
        while True:
            if self.cancel.is_set():
                return self.canceled()
            self.attempts += 1
            outputs = {
                name: spec.artifact_type(str(self.staging / name), producer=component.id)
                for name, spec in type(component).SPEC.outputs.items()
            }
            try:
                error_text, gate = self.attempt(outputs)
            except OSError as exc:  # the staging folder or the log file could not be written
                publish.discard(self.staging)
                return self.finished(FAILED, self.setup_error(exc))
            if not error_text:
                break
            publish.discard(self.staging)
            if self.cancel.is_set():
                return self.canceled()
            if self.attempts > component.retries:
                return self.finished(FAILED, error_text)
            delay = component.retry_backoff * (2 ** (self.attempts - 1))
            logger.warning(
                "%s failed (attempt %d of %d); retrying in %.1f s",
                component.id,
                self.attempts,
                component.retries + 1,
                delay,
            )
            time.sleep(delay)  # the backoff between attempts, not a synchronisation
        return self.publish(outputs, gate)

    def attempt(self, outputs: dict[str, Artifact]) -> tuple[str, GateClosed | None]:
        """One call of the executor; returns (traceback text or "", a closed gate or None).

        Raises OSError only for the runner's own preparation (staging folder, log file).
        """
        self.prepare(outputs)
        with logs.capture(self.log_path) as log:
            fault_point("log-header")
            log.write(
                f"=== {self.component.id} execution {self.record.id} attempt {self.attempts} "
                f"(run {self.target.run.name}) ===\n"
            )
            current = CurrentExecution(
                self.target.store.url, self.target.pipeline.name, self.component.id, self.record.id,
                self.target.run.name,
            )
            token = _current_execution.set(current)
            engine = self.target.pipeline.engine_for(self.component, self.target.engine)
            try:
                with use_engine(engine):
                    self.component.call_execute({**self.inputs, **outputs, **self.component.parameters})
                for name, artifact in outputs.items():
                    publish.check_properties(self.component.id, name, artifact)
                return "", None
            except GateClosed as exc:  # outputs are complete: publish them, then stop the run here
                log.write(f"{type(exc).__name__}: {exc}\n")
                return "", exc
            except Exception as exc:  # noqa: BLE001 - the component's failure is recorded, not raised
                error_text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                log.write(error_text)
                return error_text, None
            finally:
                _current_execution.reset(token)

    def setup_error(self, exc: OSError) -> str:
        return (
            f"Could not prepare execution {self.record.id} of {self.component.id!r}: {exc}. The runner writes "
            f"staging folders under {self.staging.parent} and logs under {self.target.log_root}; "
            "check that the artifact root is a writable folder with free space (--artifact-root / "
            "SLUICEWAY_ARTIFACT_ROOT)."
        )

    def publish(self, outputs: dict[str, Artifact], gate: GateClosed | None) -> ExecutionRecord:
        target = self.target
        finals = {name: self.final_uri(name) for name in outputs}
        for name, artifact in outputs.items():  # hashing and uploading read the staged files: outside the lock
            artifact.fingerprint = publish.content_fingerprint(Path(artifact.uri), artifact.properties)
            target.storage.upload(Path(artifact.uri), finals[name])
        message = f"{type(gate).__name__}: {gate}" if gate is not None else None
        with self.cancel.unless_canceled() as go:
            if not go:
                for name in outputs:  # uploaded to a remote root but never to be recorded
                    self.discard_final(name)
                return self.canceled()
            for name, artifact in outputs.items():
                staged = Path(artifact.uri)
                target.storage.place(staged, finals[name])
                artifact.uri = finals[name]
                if message is not None:  # the gate's message names the report where it will stay
                    message = message.replace(str(staged), finals[name])
            fault_point("after-rename")
            target.storage.discard_staging(self.record.id)
            fault_point("publish-record")
            return self.finished(FAILED if gate is not None else COMPLETE, message, outputs)
