"""BulkInferrer's predictions as Ray tasks on the session's real cluster: the same Parquet bytes as in process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.components import BulkInferrer

sys.path.insert(0, str(Path(__file__).parents[1] / "components"))
from push_pipelines import trained  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def test_bulk_inference_on_ray_writes_the_bytes_of_the_in_process_engine(
    ray_address: str, runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    gen, trainer = trained(rows=3000)
    common = {"model": trainer.model, "examples": gen.examples, "key_columns": ["id"], "batch_rows": 500}
    local = BulkInferrer(**common, id="infer_local", engine="local")
    on_ray = BulkInferrer(**common, id="infer_ray", engine="ray")
    run = runner.run(sw.Pipeline("inferring", [gen, trainer, local, on_ray])).raise_for_status()

    assert "as Ray tasks" in Path(run["infer_ray"].log_uri or "").read_text()
    assert "as Ray tasks" not in Path(run["infer_local"].log_uri or "").read_text()
    local_uri, ray_uri = (Path(run.output(c, "inference_result").uri) for c in ("infer_local", "infer_ray"))
    local_files = sorted(p.relative_to(local_uri) for p in local_uri.rglob("*.parquet"))
    assert local_files and local_files == sorted(p.relative_to(ray_uri) for p in ray_uri.rglob("*.parquet"))
    for name in local_files:
        assert (ray_uri / name).read_bytes() == (local_uri / name).read_bytes(), name
