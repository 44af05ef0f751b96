"""What a run left in the store, in a form two runs of the same pipeline can be compared by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sluiceway.metadata.store import MetadataStore

# A Model bundle's bytes differ between two trainings (seen between a local and an orchestrated run): its
# fingerprint is left out of the comparison. Every other output is byte-identical, fingerprint included.
# A retrain (skops names entries by object id); the model URI an evaluation and blessing name; measured
# latencies; where a push went. Their file lists and lineage are still compared.
_NOT_BYTE_STABLE = {"Model", "ModelEvaluation", "ModelBlessing", "InfraBlessing", "PushedModel"}


def files_of(uri: str) -> list[str]:
    root = Path(uri)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def run_summary(store_url: str, run_name: str) -> dict[str, Any]:
    """Per component: its final state, type, inputs (type and producer), outputs (type, files, properties),
    and the components upstream of each output in the store's lineage."""
    store = MetadataStore(store_url)
    try:
        run = store.get_run(run_name)
        components: dict[str, Any] = {}
        for execution in store.executions(run.id):
            outputs = {}
            for name, artifact in execution.outputs.items():
                lineage = store.lineage(artifact.id)
                outputs[name] = {
                    "type": artifact.TYPE_NAME,
                    "files": files_of(artifact.uri),
                    "fingerprint": None if artifact.TYPE_NAME in _NOT_BYTE_STABLE else artifact.fingerprint,
                    "upstream": sorted({node.execution.component_id for node in lineage.upstream}),
                }
            components[execution.component_id] = {
                "state": execution.state,
                "type": execution.component_type,
                "inputs": {
                    name: {"type": artifact.TYPE_NAME, "producer": artifact.producer}
                    for name, artifact in execution.inputs.items()
                },
                "outputs": outputs,
            }
        return {"state": run.state, "components": components}
    finally:
        store.close()
