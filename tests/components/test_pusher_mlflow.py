"""Pusher's MLflow model registry destination: a pyfunc model version that predicts like the bundle.

MLflow pins many packages, so it lives in its own venv (``make mlflow-venv``: ``.bench/mlflow-venv``, or
``SLUICEWAY_MLFLOW_PYTHON``); the registry test runs there in a subprocess, with this tree's sources first.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.components import Pusher

from push_pipelines import trained

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
MLFLOW_PYTHON = Path(os.environ.get("SLUICEWAY_MLFLOW_PYTHON", ROOT / ".bench" / "mlflow-venv" / "bin" / "python"))

_IN_MLFLOW_VENV = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import mlflow, numpy as np
import sluiceway as sw
from push_pipelines import create_pipeline, frame

registry, serving = sys.argv[2], sys.argv[3]
os.environ["PUSH_TEST_SERVING"] = serving
os.environ["PUSH_TEST_MLFLOW"] = registry
runner = sw.LocalRunner(store=sys.argv[4], artifact_root=sys.argv[5])
outcome = {}
for c in ("1.0", "0.01"):
    os.environ["PUSH_TEST_C"] = c
    run = runner.run(create_pipeline()).raise_for_status()
    outcome[c] = run.output("Pusher", "pushed_model").properties
mlflow.set_tracking_uri(registry)  # this script's own process: the library never sets it
rows = frame(25, seed=11)
loaded = mlflow.pyfunc.load_model("models:/pushing/2")
served = sw.load_model(os.path.join(serving, "pushing", "2"))
outcome["same_predictions"] = bool(np.array_equal(np.asarray(loaded.predict(rows)), served.predict(rows)))
client = mlflow.tracking.MlflowClient(tracking_uri=registry)
outcome["versions"] = sorted(int(v.version) for v in client.search_model_versions("name='pushing'"))
print("RESULT" + json.dumps(outcome))
"""


@pytest.mark.integration
@pytest.mark.slow
def test_the_model_is_registered_as_the_next_version_and_loads_as_a_pyfunc(tmp_path: Path) -> None:
    if not MLFLOW_PYTHON.exists():
        pytest.skip(f"no MLflow venv at {MLFLOW_PYTHON}: create it with `make mlflow-venv`")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICEWAY_", "MLFLOW_"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    result = subprocess.run(
        [
            str(MLFLOW_PYTHON),
            "-c",
            _IN_MLFLOW_VENV,
            str(TESTS / "components"),
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            str(tmp_path / "serving"),
            f"sqlite:///{tmp_path / 'md.db'}",
            str(tmp_path / "artifacts"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    outcome = json.loads(result.stdout.split("RESULT", 1)[1])
    first, second = outcome["1.0"], outcome["0.01"]
    assert first["mlflow_model_uri"] == "models:/pushing/1" and first["mlflow_version"] == 1
    assert second["mlflow_model_uri"] == "models:/pushing/2" and second["mlflow_version"] == 2
    # both destinations: destination and version name the serving directory's copy
    assert second["destination"] == str(tmp_path / "serving" / "pushing" / "2") and second["version"] == 2
    assert outcome["versions"] == [1, 2] and outcome["same_predictions"] is True


def test_without_the_extra_the_registry_destination_says_how_to_install_it(
    runner: sw.LocalRunner, tmp_path: Path
) -> None:
    if importlib.util.find_spec("mlflow") is not None:
        pytest.skip("mlflow is installed in this environment; this test checks the message when it is not")
    gen, trainer = trained()
    pusher = Pusher(model=trainer.model, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = runner.run(sw.Pipeline("p", [gen, trainer, pusher]))
    with pytest.raises(sw.ComponentError, match=r"pip install 'sluiceway\[mlflow\]'"):
        run.raise_for_status()
    assert not (tmp_path / "mlflow.db").exists()
