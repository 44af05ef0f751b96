"""The Pusher's MLflow model registry destination (the ``mlflow`` extra: ``pip install 'sluiceway[mlflow]'``).

The Model bundle is saved as an MLflow pyfunc model whose ``predict`` is ``sw.load_model(bundle).predict``
(the bundle travels as the model's artifact, the transform included), logged to a run of the experiment
``sluiceway/{pipeline}`` and registered as a new version of ``registered_model_name``. Everything goes
through an ``MlflowClient`` bound to the given URI: MLflow's process-wide tracking URI and active run are
left alone. Load it anywhere Sluiceway is installed: ``mlflow.pyfunc.load_model("models:/{name}/{version}")``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sluiceway.errors import ComponentError
from sluiceway.metadata.urls import redact_text, redact_url

BUNDLE_ARTIFACT = "sluiceway_bundle"


class SluicewayPyfunc(mlflow.pyfunc.PythonModel):
    """An MLflow pyfunc model that predicts with a Sluiceway Model bundle (raw rows in, labels out)."""

    def load_context(self, context: Any) -> None:
        from sluiceway.trainer.bundle import load_model

        self.model = load_model(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return self.model.predict(model_input)


def push_to_registry(bundle: Path, *, tracking_uri: str, model_name: str, pipeline: str) -> tuple[int, str]:
    """Register the bundle as the next version of ``model_name``; returns (version, ``models:/`` URI)."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        experiment_name = f"sluiceway/{pipeline}"
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        else:
            experiment_id = client.create_experiment(experiment_name)
        run = client.create_run(experiment_id, tags={"sluiceway.pipeline": pipeline, "sluiceway.bundle": str(bundle)})
        with tempfile.TemporaryDirectory(prefix="sluiceway-mlflow-") as scratch:
            saved = Path(scratch) / "model"
            mlflow.pyfunc.save_model(
                path=str(saved), python_model=SluicewayPyfunc(), artifacts={BUNDLE_ARTIFACT: str(bundle)}
            )
            client.log_artifacts(run.info.run_id, str(saved), artifact_path="model")
        client.set_terminated(run.info.run_id)
        try:
            client.create_registered_model(model_name)
        except MlflowException as exc:  # registered before: only "already exists" may be ignored
            if "RESOURCE_ALREADY_EXISTS" not in str(exc.error_code):
                raise
        version = client.create_model_version(
            model_name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
    except MlflowException as exc:
        raise ComponentError(
            f"Pusher could not register the model {model_name!r} in the MLflow registry at "
            f"{redact_url(tracking_uri)}: {redact_text(str(exc))}. Check the mlflow_tracking_uri and that the "
            "registry is reachable."
        ) from exc
    return int(version.version), f"models:/{model_name}/{version.version}"


__all__ = ["BUNDLE_ARTIFACT", "SluicewayPyfunc", "push_to_registry"]
