"""The training reference of a served model: its training statistics and schema, found through lineage.

A served version ``{serving_dir}/{model}/{version}/`` is a copy of a ``Model`` artifact (the Pusher copies
the bundle whole), so its ``bundle.json`` (which holds the SHA-256 of every file) identifies the artifact:
the store's ``Model`` whose ``bundle.json`` has the same bytes. From there, lineage: the ``Schema`` the
model was trained with (the nearest one upstream), and the ``ExampleStatistics`` computed from the
``Examples`` upstream of the model whose columns cover most of the signature's raw features (the raw
data, not the transformed one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sluiceway.errors import DataError, NotFoundError

if TYPE_CHECKING:
    from sluiceway.metadata.store import MetadataStore

MAX_MODELS_SCANNED = 100_000


@dataclass(frozen=True)
class TrainingReference:
    statistics: Path  # a statistics.json file or ExampleStatistics folder
    schema: Path  # a schema file (.yaml/.json/.pbtxt)
    source: str  # how it was found, for the report


def served_bundle(serving_dir: str | Path, model: str, version: int | None) -> tuple[Path, int]:
    """``{serving_dir}/{model}/{version}`` (the latest when ``version`` is None) and its version."""
    folder = Path(serving_dir) / model
    versions = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []
    if not versions:
        raise DataError(
            f"The serving directory {serving_dir} has no version of the model {model!r} (looked for {folder}/N/). "
            "Give the Pusher's destination with --model-dir, or the reference with --statistics and --schema."
        )
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise DataError(f"The model {model!r} has no version {chosen} under {folder}; it has {versions}.")
    return folder / str(chosen), chosen


def signature_inputs(bundle: Path) -> list[str]:
    manifest = json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))
    return [entry["name"] for entry in manifest.get("signature", {}).get("inputs", [])]


def find_training_reference(store: MetadataStore, bundle: Path) -> TrainingReference:
    """The training statistics and schema of the model whose bundle is ``bundle`` (see the module doc)."""
    from sluiceway.artifacts import Examples, ExampleStatistics, Model, Schema
    from sluiceway.data.statistics import load_statistics

    wanted = (bundle / Model.FILENAME).read_bytes()
    model = None
    for artifact in store.list_artifacts(Model.TYPE_NAME, limit=MAX_MODELS_SCANNED):
        try:
            if Path(artifact.uri, Model.FILENAME).read_bytes() == wanted:
                model = artifact
                break
        except OSError:
            continue  # an artifact deleted or on another machine: not the one served here
    if model is None or model.id is None:
        raise NotFoundError(
            f"No Model artifact in the metadata store has the bundle served from {bundle} (compared bundle.json). "
            "Point --store at the store of the pipeline that trained it, or give --statistics and --schema."
        )
    upstream = store.lineage(model.id).upstream
    schema = next((a for node in upstream for a in node.execution.inputs.values() if isinstance(a, Schema)), None)
    examples = {
        a.id: node.depth
        for node in upstream
        for a in [*node.execution.inputs.values(), *node.execution.outputs.values()]
        if isinstance(a, Examples) and a.id is not None
    }
    inputs = set(signature_inputs(bundle))
    best: tuple[int, int, Path] | None = None
    for examples_id, depth in examples.items():
        for node in store.lineage(examples_id, max_depth=1).downstream:
            for artifact in node.execution.outputs.values():
                if not isinstance(artifact, ExampleStatistics):
                    continue
                datasets = load_statistics(artifact.file).datasets
                covered = max((len(inputs & {f.name for f in d.features}) for d in datasets), default=0)
                if best is None or (covered, -depth) > best[:2]:
                    best = (covered, -depth, artifact.file)
    if schema is None or best is None or best[0] == 0:
        raise NotFoundError(
            f"The lineage of Model artifact {model.id} has no {'Schema' if schema is None else 'ExampleStatistics'} "
            "of its training data. Give the reference with --statistics and --schema."
        )
    return TrainingReference(best[2], schema.file, f"lineage of Model artifact {model.id}")


__all__ = ["TrainingReference", "find_training_reference", "served_bundle", "signature_inputs"]
