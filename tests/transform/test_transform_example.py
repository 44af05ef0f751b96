"""The penguin example, extended with Transform, run end to end with the real `sluiceway` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

import sluiceway as sw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "penguin" / "pipeline.py"


def test_the_penguin_example_runs_transform_and_serves_its_graph(cli_env: dict[str, str], tmp_path: Path) -> None:
    # run from a scratch folder, with these sources first on the path (PYTHONPATH may be relative)
    env = {**cli_env, "PYTHONPATH": str(Path(sw.__file__).resolve().parents[1])}
    result = run_cli(["run", str(EXAMPLE), "--json"], env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    graphs = list((Path(cli_env["SLUICEWAY_ARTIFACT_ROOT"]) / "penguin" / "Transform").rglob("transform_graph.json"))
    assert len(graphs) == 1
    graph = json.loads(graphs[0].read_text())
    assert graph["preprocessing_fn"].endswith(":preprocessing_fn") and graph["inputs"]["species"]["serving"] is False
    loaded = sw.load_transform(graphs[0])
    row = {"bill_length_mm": 39.1, "bill_depth_mm": None, "flipper_length_mm": 181, "body_mass_g": 3750}
    served = loaded.transform({**row, "island": "Torgersen", "sex": None})
    assert "species" not in served and served["bill_depth_mm_z"] is not None  # filled with the train mean
    assert served["sex_id"] >= 0 and 0 <= served["mass_bucket"] <= 4
    transformed = pl.read_parquet(graphs[0].parents[3] / "transformed_examples")
    assert transformed.null_count()["bill_depth_mm_z"].item() == 0
