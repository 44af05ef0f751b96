"""A tampered or foreign model file fails with a clear DataError, and no pickle inside one is executed."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import trainer_fixtures as fx

import sluiceway as sw
from sluiceway.components import Trainer


class _Payload:
    """Unpickling this creates the marker file: the proof that a loader executed a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.makedirs, (str(self.marker),))


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trainer-safety")
    components, transform, schema, _ = fx.upstream()
    trainers = [
        Trainer(
            id=f"Trainer-{name}",
            examples=transform.transformed_examples,
            transform_graph=transform.transform_graph,
            run_fn=run_fn,
            train_args={"probe": str(root / name)},
        )
        for name, run_fn in (("sklearn", fx.sklearn_run_fn), ("xgboost", fx.xgboost_run_fn), ("torch", fx.torch_run_fn))
    ]
    runner = sw.LocalRunner(store=f"sqlite:///{root / 'md.db'}", artifact_root=root / "artifacts", parallelism=2)
    run = runner.run(sw.Pipeline("penguin-safety", [*components, *trainers]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    return {name: Path(run.output(f"Trainer-{name}", "model").uri) for name in ("sklearn", "xgboost", "torch")}


def _copy(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(bundle, target)
    return target


def _replace(folder: Path, relative: str, content: bytes) -> None:
    """Swap a file and update its digest in the manifest: what a deliberate attacker would do."""
    (folder / relative).write_bytes(content)
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["files"][relative] = hashlib.sha256(content).hexdigest()
    (folder / "bundle.json").write_text(json.dumps(manifest))


def test_a_modified_model_file_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(bundles["sklearn"], tmp_path)
    data = bytearray((folder / "model" / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model" / "model.skops").write_bytes(bytes(data))
    with pytest.raises(sw.DataError, match=r"model\.skops was modified after the model was saved"):
        sw.load_model(folder)


def test_a_modified_transform_copy_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(bundles["sklearn"], tmp_path)
    graph = folder / "transform" / "transform_graph.json"
    graph.write_text(graph.read_text().replace('"island"', '"islands"', 1))
    with pytest.raises(sw.DataError, match=r"transform_graph\.json was modified"):
        sw.load_model(folder)


@pytest.mark.parametrize(("flavor", "file"), [("sklearn", "model.skops"), ("torch", "model.onnx")])
def test_a_pickle_in_place_of_the_model_is_refused_and_never_executed(
    bundles: dict[str, Path], tmp_path: Path, flavor: str, file: str
) -> None:
    folder = _copy(bundles[flavor], tmp_path)
    marker = tmp_path / "pickle-was-executed"
    _replace(folder, f"model/{file}", pickle.dumps(_Payload(marker)))
    with pytest.raises(sw.DataError, match=rf"model/{file} is not a readable"):
        sw.load_model(folder)
    assert not marker.exists()


def test_torch_archives_are_never_loaded(bundles: dict[str, Path], tmp_path: Path) -> None:
    """A torch archive with a pickle inside, in place of the ONNX file or of the weights kept for warm
    starts: the first is refused, the second is never read by load_model; neither runs."""
    import torch

    folder = _copy(bundles["torch"], tmp_path)
    marker = tmp_path / "pickle-was-executed"
    archive = tmp_path / "evil.pt"
    torch.save({"weights": _Payload(marker)}, archive)  # a real torch zip archive, pickle inside
    _replace(folder, "model/state_dict.pt", archive.read_bytes())
    model = sw.load_model(folder)
    assert model.predict_proba(run_rows()).shape == (1, 3)
    _replace(folder, "model/model.onnx", archive.read_bytes())
    with pytest.raises(sw.DataError, match=r"model/model\.onnx is not a readable ONNX model"):
        sw.load_model(folder)
    assert not marker.exists()


def run_rows() -> dict[str, object]:
    return {
        "bill_length_mm": 39.1,
        "bill_depth_mm": 18.7,
        "flipper_length_mm": 181,
        "body_mass_g": 3750,
        "island": "Torgersen",
        "sex": "male",
    }


def test_a_skops_file_with_untrusted_types_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    folder = _copy(bundles["sklearn"], tmp_path)
    _replace(folder, "model/model.skops", sio.dumps(FunctionTransformer(func=eval)))
    with pytest.raises(sw.DataError, match=r"contains types that are not trusted: \['builtins.eval'\]"):
        sw.load_model(folder)


def test_a_foreign_xgboost_file_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(bundles["xgboost"], tmp_path)
    _replace(folder, "model/model.json", b'{"learner": "not really"}')
    with pytest.raises(sw.DataError, match=r"model\.json is not a readable XGBoost model"):
        sw.load_model(folder)


def test_a_manifest_from_the_future_or_pointing_outside_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    folder = _copy(bundles["sklearn"], tmp_path)
    manifest = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(sw.DataError, match=r"format version 99 .* reads versions up to 1"):
        sw.load_model(folder)
    files = {**manifest["files"], "../md.db": "0" * 64}
    (folder / "bundle.json").write_text(json.dumps({**manifest, "files": files}))
    with pytest.raises(sw.DataError, match=r"lists the file '\.\./md\.db', outside the bundle"):
        sw.load_model(folder)
    xgboost = _copy(bundles["xgboost"], tmp_path / "xgboost")
    manifest = json.loads((xgboost / "bundle.json").read_text())
    manifest["model"]["file"] = "../../../md.db"
    (xgboost / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(sw.DataError, match=r"names the model file '\.\./\.\./\.\./md\.db', which is not among"):
        sw.load_model(xgboost)
    with pytest.raises(sw.DataError, match=r"No model bundle at .* \(no bundle\.json\)"):
        sw.load_model(tmp_path)
