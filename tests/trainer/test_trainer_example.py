"""The penguin example trains with the standard Trainer, run end to end with the real `sluiceway` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sluiceway as sw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "penguin" / "pipeline.py"


def test_the_penguin_example_trains_a_model_that_predicts_raw_rows(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "PYTHONPATH": str(Path(sw.__file__).resolve().parents[1])}
    result = run_cli(["-v", "run", str(EXAMPLE), "--json"], env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "metric eval_accuracy = " in result.stderr  # training progress, live, with -v
    artifacts = Path(cli_env["SLUICEWAY_ARTIFACT_ROOT"]) / "penguin"
    (manifest_file,) = list((artifacts / "Trainer").rglob("bundle.json"))
    manifest = json.loads(manifest_file.read_text())
    assert manifest["flavor"] == "sklearn" and manifest["label"] == "species"
    assert manifest["metrics"]["eval_accuracy"] >= 0.9
    assert not list(artifacts.rglob("*.pkl")), "the example pickles nothing"
    model = sw.load_model(manifest_file.parent)
    assert model.classes == ["Adelie", "Chinstrap", "Gentoo"]
    row = {
        "island": "Biscoe",
        "bill_length_mm": 46.1,
        "bill_depth_mm": 13.2,
        "flipper_length_mm": 211,
        "body_mass_g": 4500,
        "sex": "female",
        "year": 2007,
    }
    assert model.predict(row).tolist() == ["Gentoo"]
    assert abs(model.predict_proba(row).sum() - 1.0) < 1e-9
    (evaluation,) = list((artifacts / "Evaluator").rglob(sw.ModelEvaluation.FILENAME))
    overall = json.loads(evaluation.read_text())["candidate"]["slices"][0]
    assert overall["name"] == "Overall" and overall["metrics"]["accuracy"] >= 0.9
    assert list((artifacts / "Evaluator").rglob(sw.ModelBlessing.BLESSED_MARKER))
