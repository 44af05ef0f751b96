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
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from sluiceway.artifacts.base import Artifact
from sluiceway.dsl.component import Component, canonical_parameters, code_fingerprint
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import GateClosed, RunError
from sluiceway.metadata.store import CANCELED, FAILED, ExecutionRecord, MetadataStore, RunRecord
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


def resolve_inputs(target: ExecutionTarget, component: Component) -> dict[str, Artifact]:
    """The artifacts each input channel refers to in this run: the outputs of the upstream executions."""
    resolved: dict[str, Artifact] = {}
    for input_name, channel in component.inputs.items():
        producer = getattr(channel, "producer", None)
        if producer is None:  # pragma: no cover - resolver channels arrive with the resolvers issue
            raise RunError(f"Component {component.id!r} input {input_name!r}: unsupported channel {channel!r}.")
        record = target.store.successful_execution(target.run.id, producer.id)
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
    target: ExecutionTarget, component: Component, *, cancel: threading.Event | None = None
) -> ExecutionRecord:
    """Run (or reuse from the cache) one component; returns its recorded execution.

    A failing executor does not raise: the execution is recorded FAILED (traceback in ``error`` and in
    the log file) and returned. Errors of the stores or of the run's state raise.
    """
    store = target.store
    inputs = resolve_inputs(target, component)
    parameters_json = canonical_parameters(component.parameters)
    fingerprint = execution_fingerprint(component, parameters_json, inputs)
    common = dict(run_id=target.run.id, component_id=component.id, component_type=component.type_name,
                  fingerprint=fingerprint, parameters=parameters_json, inputs=inputs)

    if target.cache and component.cache:
        hit = store.find_cached(fingerprint)
        if hit is not None:
            source_id, outputs = hit
            execution_id = store.record_cached_execution(**common, outputs=outputs, cached_from=source_id)
            return store.get_execution(execution_id)

    log_path = target.log_root / target.run.name / f"{component.id}.log"
    execution_id = store.start_execution(**common, log_uri=str(log_path))
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
                    store.finish_execution(execution_id, CANCELED, error_text, attempts=attempts)
                    raise
        if not error_text:
            break
        publish.discard(staging)
        if cancel is not None and cancel.is_set():
            store.finish_execution(execution_id, CANCELED, error_text, attempts=attempts)
            return store.get_execution(execution_id)
        if attempts > component.retries:
            store.finish_execution(execution_id, FAILED, error_text, attempts=attempts)
            return store.get_execution(execution_id)
        delay = component.retry_backoff * (2 ** (attempts - 1))
        logger.warning("%s failed (attempt %d of %d); retrying in %.1f s", component.id, attempts, component.retries + 1, delay)
        time.sleep(delay)

    if cancel is not None and cancel.is_set():
        publish.discard(staging)
        store.finish_execution(execution_id, CANCELED, "the run was interrupted", attempts=attempts)
        return store.get_execution(execution_id)
    for name, artifact in outputs.items():
        staged = Path(artifact.uri)
        artifact.fingerprint = publish.content_fingerprint(staged, artifact.properties)
        final = publish.final_uri(target.artifact_root, target.pipeline.name, component.id, name, execution_id)
        publish.move_into_place(staged, final)
        artifact.uri = str(final)
    publish.discard(staging)
    if gate is not None:
        store.publish_execution(execution_id, outputs, attempts=attempts, state=FAILED,
                                error=f"{type(gate).__name__}: {gate}")
    else:
        store.publish_execution(execution_id, outputs, attempts=attempts)
    return store.get_execution(execution_id)
