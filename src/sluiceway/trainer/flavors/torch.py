"""PyTorch models as ONNX (``model.onnx``, run with onnxruntime) plus their weights (``state_dict.pt``).

Why not ``torch.export``'s ``.pt2`` or TorchScript: loading either runs code from the file (``.pt2``
guards are ``exec``-ed, its shape expressions go through ``sympy.sympify``, and it falls back to full
pickle loading; PyTorch's own documentation says never to load one from an untrusted source), and
TorchScript is deprecated. An ONNX file is data: onnxruntime executes only ONNX operators.

``save_model(module)`` exports an ``nn.Module`` (in eval mode) with a dynamic batch dimension, traced on
two training rows. The module takes one float32 tensor of the features and returns one tensor: values (a
regressor), or one score (logit) per class when saved with ``classes=[...]`` (probabilities are their
softmax, the label the highest). ``state_dict.pt`` keeps the weights for a warm start into your own module
class: ``torch.load(path, weights_only=True)`` (tensors only; never loaded by ``load_model``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import DataError, require
from sluiceway.trainer.flavors import pick_by_argmax

FILE = "model.onnx"
WEIGHTS_FILE = "state_dict.pt"


def _torch() -> Any:
    return require("torch", feature="The PyTorch model flavor", extra="torch")


class TorchFlavor:
    name = "torch"
    extra = "torch"

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        torch = _torch()
        onnx = require("onnx", feature="The PyTorch model flavor (saved as ONNX)", extra="torch")
        onnxruntime = require("onnxruntime", feature="The PyTorch model flavor (served by onnxruntime)", extra="torch")
        require("onnxscript", feature="The PyTorch model flavor (torch.onnx's exporter)", extra="torch")
        sample = torch.as_tensor(np.asarray(example[:2], dtype=np.float32))
        was_training = model.training
        model.eval()  # dropout off, batch norm frozen: the model as it serves
        try:
            program = torch.onnx.export(
                model,
                (sample,),
                input_names=["X"],
                output_names=["scores"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,  # the torch.export-based exporter (the TorchScript-based one is deprecated)
                verbose=False,
            )
        finally:
            model.train(was_training)  # the caller's module is left as it was given
        program.save(str(folder / FILE))
        torch.save(model.state_dict(), folder / WEIGHTS_FILE)
        classes = options.get("classes")
        return {
            "file": FILE,
            "weights_file": WEIGHTS_FILE,
            "libraries": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
            "classes": list(classes) if classes is not None else None,
            "input": "numpy",
        }

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        ort = require("onnxruntime", feature="The PyTorch model flavor (served by onnxruntime)", extra="torch")
        path = folder / FILE
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # small requests: threads cost more than they give
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped failures for bad files
            raise DataError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc}).") from exc

    def _scores(self, session: Any, X: Any) -> np.ndarray:
        feed = {session.get_inputs()[0].name: np.asarray(X, dtype=np.float32)}
        return np.asarray(session.run(None, feed)[0])

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
