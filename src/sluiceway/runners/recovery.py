"""What interrupts and crashes leave behind: settle the records, reclaim the folders.

The local runner calls these when Ctrl-C or an error stops a run (``cancel_run``), at the end of every run
(``settle_leftovers``) and before a resume (``reclaim_unfinished``). ``sluiceway gc`` (``runners.gc``) does
the same for folders across all runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import NotFoundError, StoreError
from sluiceway.metadata.store import (
    ABANDONED,
    CANCELED,
    FAILED,
    RUNNING,
    ExecutionRecord,
    MetadataStore,
    RunRecord,
)
from sluiceway.runners import publish
from sluiceway.runners.execute import INTERRUPTED, Cancellation, ExecutionTarget
from sluiceway.storage import ArtifactRoot, LocalRoot

logger = logging.getLogger(__name__)


def cancel_if_recorded(store: MetadataStore, name: str) -> str | None:
    """Ctrl-C while a run was being created or prepared for resuming: mark it CANCELED if it exists."""
    try:
        record = store.get_run(name)
        store.set_run_state(record.id, CANCELED)
    except (NotFoundError, StoreError):  # not recorded (or the store is unusable): nothing to resume
        return None
    return record.name


def settle_leftovers(store: MetadataStore, record: RunRecord, state: str, reason: str) -> list[ExecutionRecord]:
    """Record every execution this process left RUNNING in the run as ``state``; return them."""
    left: list[ExecutionRecord] = []
    for execution in store.executions(record.id, with_artifacts=False):
        if execution.state == RUNNING and execution.pid == os.getpid() and execution.host == store.host:
            store.finish_execution(execution.id, state, reason)
            left.append(execution)
    return left


def cancel_run(
    target: ExecutionTarget, cancel: Cancellation, *, state: str = CANCELED, reason: str | None = None
) -> None:
    """Stop the run now: nothing more starts or publishes; running executions end ``state``, staging goes."""
    cancel.cancel()
    store, record = target.store, target.run
    try:
        for execution in settle_leftovers(store, record, state, reason or INTERRUPTED):
            target.storage.discard_staging(execution.id)
        store.set_run_state(record.id, state)
    except Exception as exc:  # noqa: BLE001 - the original interrupt or error is what the caller must see
        # (A full or broken store refuses these writes too; --resume settles the records later.)
        logger.error("could not record run %s as %s: %s", record.name, state, exc)


def reclaim_unfinished(
    store: MetadataStore, record: RunRecord, pipeline: Pipeline, artifact_root: Path | ArtifactRoot
) -> list[Path]:
    """Before a resume: delete what earlier attempts of this run left on disk without recording it.

    Staging folders of executions that ended without publishing (CANCELED, ABANDONED, FAILED) and their
    final folders too: a process killed between renaming an output into place and recording it leaves a
    complete but unrecorded folder there. A FAILED execution that closed a gate recorded its outputs:
    those stay.
    """
    if isinstance(artifact_root, LocalRoot):
        artifact_root = artifact_root.root
    if not isinstance(artifact_root, Path):  # a remote root: its staging and final prefixes, unlisted
        _reclaim_remote(store, record, pipeline, artifact_root)
        return []
    reclaimed: list[Path] = []
    components = {c.id: c for c in pipeline.components}
    for execution in store.executions(record.id):
        if execution.state not in (CANCELED, ABANDONED, FAILED) or execution.outputs:
            continue
        folders = [publish.staging_dir(artifact_root, execution.id)]
        component = components.get(execution.component_id)
        if component is not None:
            folders += [
                publish.final_uri(artifact_root, pipeline.name, component.id, name, execution.id)
                for name in type(component).SPEC.outputs
            ]
        for folder in folders:
            if folder.exists():
                publish.discard(folder)
                reclaimed.append(folder)
    if reclaimed:
        logger.info("reclaimed %d unrecorded folder(s) of run %s", len(reclaimed), record.name)
    return reclaimed


def _reclaim_remote(store: MetadataStore, record: RunRecord, pipeline: Pipeline, root: ArtifactRoot) -> None:
    components = {c.id: c for c in pipeline.components}
    for execution in store.executions(record.id):
        if execution.state not in (CANCELED, ABANDONED, FAILED) or execution.outputs:
            continue
        root.discard_staging(execution.id)
        component = components.get(execution.component_id)
        for name in type(component).SPEC.outputs if component is not None else ():
            root.discard_final(root.final_uri(pipeline.name, component.id, name, execution.id))  # type: ignore[union-attr]
