"""PyTorch models as a ``torch.export`` program (``model.pt2``; TorchScript is deprecated in PyTorch 2.x).

``save_model(module)`` exports an ``nn.Module`` (in eval mode) with a dynamic batch dimension, traced on
a few training rows; an ``ExportedProgram`` is saved as it is. The module takes one float32 tensor of the
features and returns one tensor: values (a regressor), or one score (logit) per class when the model is
saved with ``classes=[...]`` (probabilities are their softmax, the label the highest).
Loading reads tensors with ``weights_only``: no pickled objects are executed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import DataError, require
from sluiceway.trainer.flavors import pick_by_argmax

FILE = "model.pt2"


def _torch() -> Any:
    return require("torch", feature="The PyTorch model flavor", extra="torch")


class TorchFlavor:
    name = "torch"
    extra = "torch"

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        torch = _torch()
        program = model
        if not isinstance(model, torch.export.ExportedProgram):
            model.eval()
            sample = torch.as_tensor(np.asarray(example[:2], dtype=np.float32))
            batch = torch.export.Dim("batch")
            program = torch.export.export(model, (sample,), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(folder / FILE))
        classes = options.get("classes")
        return {
            "file": FILE,
            "libraries": {"torch": torch.__version__},
            "classes": list(classes) if classes is not None else None,
            "input": "numpy",
        }

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        torch = _torch()
        path = folder / FILE
        try:
            return torch.export.load(str(path)).module()
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a foreign or damaged archive
            raise DataError(f"{path} is not a readable torch.export program ({type(exc).__name__}: {exc}).") from exc

    def _scores(self, model: Any, X: Any) -> np.ndarray:
        torch = _torch()
        with torch.no_grad():
            out = model(torch.as_tensor(np.asarray(X, dtype=np.float32)))
        return np.asarray(out.detach().cpu().numpy())

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        scores = self._scores(model, X)
        if spec.get("classes") is not None:
            return pick_by_argmax(scores, spec["classes"])
        return scores[:, 0] if scores.ndim == 2 and scores.shape[1] == 1 else scores

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        scores = self._scores(model, X).astype(np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))


FLAVOR = TorchFlavor()
