"""Training and the Model bundle: any model library behind one ``load_model(uri).predict(rows)``.

- ``context``: ``TrainerContext``, what the Trainer's ``run_fn`` gets (data, schema, hyperparameters,
  base model, ``log_metric``, ``save_model``).
- ``flavors``: the plugin table of model libraries (scikit-learn via skops, LightGBM text, XGBoost
  JSON/UBJ, PyTorch as ONNX, ONNX exports), each a module with safe save and load.
- ``bundle``: the ``Model`` artifact's documented layout, writing it, and ``load_model``.
"""

from __future__ import annotations

from sluiceway.trainer.bundle import FORMAT_VERSION, LoadedModel, load_model
from sluiceway.trainer.context import SplitData, TrainerContext
from sluiceway.trainer.flavors import FLAVORS

__all__ = ["FLAVORS", "FORMAT_VERSION", "LoadedModel", "SplitData", "TrainerContext", "load_model"]
