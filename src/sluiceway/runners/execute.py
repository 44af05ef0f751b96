"""Execute one component of a run against the shared stores.

This is the single place where a component runs: the local runner calls it from its worker threads and
``sluiceway exec`` (the entry point of Airflow, Kubeflow and Ray tasks) calls it in its own process.
Steps: resolve inputs from the run's recorded upstream executions; fingerprint; reuse a cached
execution if allowed; otherwise run the executor into staging folders, with retries, and publish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from sluiceway.artifacts.base import Artifact
from sluiceway.dsl.component import Component, canonical_parameters, code_fingerprint
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import GateClosed, RunError
from sluiceway.metadata.store import (
    CACHED,
    CANCELED,
    COMPLETE,
    FAILED,
    RUNNING,
    SUCCESSFUL,
    ExecutionRecord,
    MetadataStore,
    RunRecord,
    now_ms,
)
from sluiceway.runners import logs, publish

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionTarget:
    """Everything needed to execute one component of one run."""

    store: MetadataStore
    pipeline: Pipeline
    run: RunRecord
    artifact_root: Path
    log_root: Path
    cache: bool = True


def resolve_inputs(
    target: ExecutionTarget, component: Component, upstream: Mapping[str, ExecutionRecord] | None = None
) -> dict[str, Artifact]:
    """The artifacts each input channel refers to in this run: the outputs of the upstream executions.

    ``upstream`` holds executions the caller already knows (the local runner's); others are read from
    the store (``sluiceway exec``, where each component runs in its own process).
    """
    resolved: dict[str, Artifact] = {}
    for input_name, channel in component.inputs.items():
        producer = getattr(channel, "producer", None)
        if producer is None:  # pragma: no cover - resolver channels arrive with the resolvers issue
            raise RunError(f"Component {component.id!r} input {input_name!r}: unsupported channel {channel!r}.")
        known = upstream.get(producer.id) if upstream else None
        record = known if known is not None and known.state in SUCCESSFUL else target.store.successful_execution(target.run.id, producer.id)
        if record is None:
            raise RunError(
                f"Component {component.id!r} needs input {input_name!r} from {producer.id!r}, but {producer.id!r} "
                f"has no completed execution in run {target.run.name!r}. Run {producer.id!r} first "
                f"(sluiceway exec --component {producer.id} --run {target.run.name})."
            )
        artifact = record.outputs.get(channel.name)
        if artifact is None:
            raise RunError(
                f"Component {component.id!r} input {input_name!r}: the execution {record.id} of {producer.id!r} "
                f"recorded no output {channel.name!r}."
            )
        resolved[input_name] = artifact
    return resolved


def execution_fingerprint(component: Component, parameters_json: str, inputs: dict[str, Artifact]) -> str:
    """The cache key: the component's identity and code, its parameters and its inputs' fingerprints.

    The component id is part of it, so two identical components in one pipeline each keep their own
    executions (and their own lineage) instead of serving each other from the cache.
    """
    material = {
        "component_id": component.id,
        "type": component.type_name,
        "code": code_fingerprint(type(component)),
        "parameters": parameters_json,
        "inputs": {name: artifact.fingerprint or f"id:{artifact.id}" for name, artifact in sorted(inputs.items())},
        "extra": component.cache_key(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def execute_component(
    target: ExecutionTarget,
    component: Component,
    *,
    cancel: threading.Event | None = None,
    upstream: Mapping[str, ExecutionRecord] | None = None,
) -> ExecutionRecord:
    """Run (or reuse from the cache) one component; returns its recorded execution.

    A failing executor does not raise: the execution is recorded FAILED (traceback in ``error`` and in
    the log file) and returned. Errors of the stores or of the run's state raise.
    """
    store = target.store
    inputs = resolve_inputs(target, component, upstream)
    parameters_json = canonical_parameters(component.parameters)
    fingerprint = execution_fingerprint(component, parameters_json, inputs)
    common = dict(run_id=target.run.id, component_id=component.id, component_type=component.type_name,
                  fingerprint=fingerprint, parameters=parameters_json, inputs=inputs)
    # The returned record is built from what was written, not read back: one query less per component.
    record = ExecutionRecord(
        id=0, run_id=target.run.id, component_id=component.id, component_type=component.type_name, state=RUNNING,
        fingerprint=fingerprint, cached_from=None, parameters=json.loads(parameters_json), log_uri=None, error=None,
        attempts=0, host=store.host, pid=os.getpid(), create_time=0, start_time=None, end_time=None, inputs=inputs,
    )

    if target.cache and component.cache:
        hit = store.find_cached(fingerprint)
        if hit is not None:
            source_id, outputs = hit
            stamp = now_ms()
            execution_id = store.record_cached_execution(**common, outputs=outputs, cached_from=source_id, stamp=stamp)
            return replace(record, id=execution_id, state=CACHED, cached_from=source_id, create_time=stamp,
                           start_time=stamp, end_time=stamp, outputs=outputs)

    log_path = target.log_root / target.run.name / f"{component.id}.log"
    started = now_ms()
    execution_id = store.start_execution(**common, log_uri=str(log_path), stamp=started)
    record = replace(record, id=execution_id, log_uri=str(log_path), create_time=started, start_time=started)

    def finished(state: str, error: str | None, outputs: dict[str, Artifact] | None = None) -> ExecutionRecord:
        stamp = now_ms()
        if outputs is None:
            store.finish_execution(execution_id, state, error, attempts=attempts, stamp=stamp)
            outputs = {}
        else:
            store.publish_execution(execution_id, outputs, attempts=attempts, state=state, error=error, stamp=stamp)
        return replace(record, state=state, error=error, attempts=attempts, end_time=stamp, outputs=outputs)

    staging = publish.staging_dir(target.artifact_root, execution_id)
    attempts = 0
    error_text = ""
    gate: GateClosed | None = None
    while True:
        attempts += 1
        outputs = {
            name: spec.artifact_type(str(staging / name), producer=component.id)
            for name, spec in type(component).SPEC.outputs.items()
        }
        for artifact in outputs.values():
            Path(artifact.uri).mkdir(parents=True, exist_ok=True)
        with logs.capture(log_path) as log:
            log.write(f"=== {component.id} execution {execution_id} attempt {attempts} (run {target.run.name}) ===\n")
            try:
                component.call_execute({**inputs, **outputs, **component.parameters})
                for name, artifact in outputs.items():
                    publish.check_properties(component.id, name, artifact)
                error_text = ""
            except GateClosed as exc:  # outputs are complete: publish them, then stop the run here
                gate = exc
                error_text = ""
                log.write(f"{type(exc).__name__}: {exc}\n")
            except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised only for interrupts
                error_text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                log.write(error_text)
                if not isinstance(exc, Exception):
                    publish.discard(staging)
                    finished(CANCELED, error_text)
                    raise
        if not error_text:
            break
        publish.discard(staging)
        if cancel is not None and cancel.is_set():
            return finished(CANCELED, error_text)
        if attempts > component.retries:
            return finished(FAILED, error_text)
        delay = component.retry_backoff * (2 ** (attempts - 1))
        logger.warning("%s failed (attempt %d of %d); retrying in %.1f s", component.id, attempts, component.retries + 1, delay)
        time.sleep(delay)

    if cancel is not None and cancel.is_set():
        publish.discard(staging)
        return finished(CANCELED, "the run was interrupted")
    for name, artifact in outputs.items():
        staged = Path(artifact.uri)
        artifact.fingerprint = publish.content_fingerprint(staged, artifact.properties)
        final = publish.final_uri(target.artifact_root, target.pipeline.name, component.id, name, execution_id)
        publish.move_into_place(staged, final)
        artifact.uri = str(final)
    publish.discard(staging)
    if gate is not None:
        return finished(FAILED, f"{type(gate).__name__}: {gate}", outputs)
    return finished(COMPLETE, None, outputs)
