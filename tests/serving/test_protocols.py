"""Both protocols over real HTTP against a real `sluiceway serve` process, with real clients (httpx and
tritonclient), checked against the same bundle's in-process predictions."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import serving_fixtures as sf

import sluiceway as sw

pytestmark = pytest.mark.integration

ROWS = [
    sf.ROW,
    {
        "island": "Dream",
        "bill_length_mm": 39.5,
        "bill_depth_mm": 17.4,
        "flipper_length_mm": 186,
        "body_mass_g": 3800,
        "sex": None,
    },
    {
        "island": "Torgersen",
        "bill_length_mm": None,
        "bill_depth_mm": None,
        "flipper_length_mm": None,
        "body_mass_g": None,
        "sex": None,
    },
]


def expected(bundle: Path, rows: list[dict]) -> tuple[list, np.ndarray]:
    model = sw.load_model(bundle)
    return model.predict(rows).tolist(), model.predict_proba(rows)


def test_tf_serving_predict_with_instances_matches_load_model(server: sf.ServerProcess, bundles) -> None:
    response = httpx.post(f"{server.url}/v1/models/penguin:predict", json={"instances": ROWS})
    assert response.status_code == 200, response.text
    assert response.headers["sluiceway-model-version"] == "2"
    predictions = response.json()["predictions"]
    labels, probabilities = expected(bundles["sklearn"], ROWS)
    assert [p["label"] for p in predictions] == labels
    np.testing.assert_allclose([p["probabilities"] for p in predictions], probabilities, rtol=1e-12)


def test_tf_serving_predict_with_columnar_inputs(server: sf.ServerProcess, bundles) -> None:
    columns = {name: [row[name] for row in ROWS] for name in ROWS[0]}
    response = httpx.post(f"{server.url}/v1/models/penguin:predict", json={"inputs": columns})
    assert response.status_code == 200, response.text
    outputs = response.json()["outputs"]
    labels, probabilities = expected(bundles["sklearn"], ROWS)
    assert outputs["label"] == labels
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=1e-12)


def test_an_older_version_is_served_by_path(server: sf.ServerProcess, bundles) -> None:
    response = httpx.post(f"{server.url}/v1/models/penguin/versions/1:predict", json={"instances": ROWS})
    assert response.status_code == 200, response.text
    assert response.headers["sluiceway-model-version"] == "1"
    _, weak = expected(bundles["sklearn-weak"], ROWS)
    np.testing.assert_allclose([p["probabilities"] for p in response.json()["predictions"]], weak, rtol=1e-12)
    assert httpx.post(f"{server.url}/v1/models/penguin/versions/7:predict", json={"instances": ROWS}).status_code == 404


def test_extra_keys_such_as_the_label_are_ignored(server: sf.ServerProcess, bundles) -> None:
    row = {**sf.ROW, "species": "Gentoo", "year": 2007}
    response = httpx.post(f"{server.url}/v1/models/penguin:predict", json={"instances": [row]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == expected(bundles["sklearn"], [sf.ROW])[0][0]


def test_tf_serving_status_and_metadata(server: sf.ServerProcess) -> None:
    status = httpx.get(f"{server.url}/v1/models/penguin").json()
    assert status == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    metadata = httpx.get(f"{server.url}/v1/models/penguin/metadata").json()
    assert metadata["model_spec"] == {"name": "penguin", "signature_name": "", "version": "2"}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert set(signature["inputs"]) == set(sf.ROW)
    assert signature["inputs"]["island"]["dtype"] == "BYTES"
    assert set(signature["outputs"]) == {"label", "probabilities"}


def test_open_inference_protocol_json(server: sf.ServerProcess, bundles) -> None:
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server.url}/v2/health/ready").json() == {"ready": True}
    assert httpx.get(f"{server.url}/v2").json()["extensions"] == ["binary_tensor_data"]
    assert httpx.get(f"{server.url}/v2/models/penguin/ready").json() == {"name": "penguin", "ready": True}
    metadata = httpx.get(f"{server.url}/v2/models/penguin").json()
    assert metadata["versions"] == ["1", "2"]
    types = {
        "island": "BYTES",
        "sex": "BYTES",
        "bill_length_mm": "FP64",
        "bill_depth_mm": "FP64",
        "flipper_length_mm": "INT64",
        "body_mass_g": "INT64",
    }
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]} == types
    request = {
        "id": "r1",
        "inputs": [
            {"name": name, "datatype": types[name], "shape": [len(ROWS), 1], "data": [row[name] for row in ROWS]}
            for name in types
        ],
    }
    response = httpx.post(f"{server.url}/v2/models/penguin/infer", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == "penguin" and body["model_version"] == "2" and body["id"] == "r1"
    outputs = {o["name"]: o for o in body["outputs"]}
    labels, probabilities = expected(bundles["sklearn"], ROWS)
    assert outputs["label"]["data"] == labels and outputs["label"]["shape"] == [3]
    assert outputs["probabilities"]["shape"] == [3, 3]
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (3, 3)), probabilities, rtol=1e-12)


def _triton_inputs(tritonclient_http, rows: list[dict], binary: bool) -> list:
    arrays = {
        "island": np.array([r["island"].encode() for r in rows], dtype=object),
        "sex": np.array([(r["sex"] or "").encode() for r in rows], dtype=object),
        "bill_length_mm": np.array([r["bill_length_mm"] for r in rows], dtype=np.float64),
        "bill_depth_mm": np.array([r["bill_depth_mm"] for r in rows], dtype=np.float32),
        "flipper_length_mm": np.array([r["flipper_length_mm"] for r in rows], dtype=np.int64),
        "body_mass_g": np.array([r["body_mass_g"] for r in rows], dtype=np.int32),
    }
    types = {
        np.dtype(object): "BYTES",
        np.dtype(np.float64): "FP64",
        np.dtype(np.float32): "FP32",
        np.dtype(np.int64): "INT64",
        np.dtype(np.int32): "INT32",
    }
    inputs = []
    for name, array in arrays.items():
        tensor = tritonclient_http.InferInput(name, list(array.shape), types[array.dtype])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_infers_with_its_defaults(server: sf.ServerProcess, bundles, binary: bool) -> None:
    tritonclient_http = pytest.importorskip("tritonclient.http")
    rows = [ROWS[0], {**ROWS[1], "sex": "male"}]
    client = tritonclient_http.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("penguin")
        assert client.get_model_metadata("penguin")["platform"] == "sluiceway_sklearn"
        result = client.infer("penguin", _triton_inputs(tritonclient_http, rows, binary))  # binary outputs
        labels, probabilities = expected(bundles["sklearn"], rows)
        assert result.as_numpy("label").tolist() == labels
        np.testing.assert_allclose(result.as_numpy("probabilities"), probabilities, rtol=1e-6)
        only_label = tritonclient_http.InferRequestedOutput("label", binary_data=False)
        result = client.infer("penguin", _triton_inputs(tritonclient_http, rows, binary), outputs=[only_label])
        assert [o["name"] for o in result.get_response()["outputs"]] == ["label"]
        assert result.as_numpy("label").tolist() == labels
        with pytest.raises(tritonclient_http.InferenceServerException, match="not served here"):
            client.infer("no-such-model", _triton_inputs(tritonclient_http, rows, binary))
    finally:
        client.close()


def test_a_tree_model_is_served_beside(server: sf.ServerProcess, bundles) -> None:
    response = httpx.post(f"{server.url}/v1/models/penguin-lgb:predict", json={"instances": ROWS})
    assert response.status_code == 200, response.text
    assert [p["label"] for p in response.json()["predictions"]] == expected(bundles["lightgbm"], ROWS)[0]


def test_the_openapi_spec_lists_every_route(server: sf.ServerProcess) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/v1/models/{name}:predict",
        "/v2/models/{name}/infer",
        "/v2/health/ready",
        "/metrics",
        "/v1/models/{name}/versions/{version}:predict",
    ):
        assert path in spec["paths"]


def test_explain_gives_tree_contributions_that_add_up_to_the_raw_score(server: sf.ServerProcess, bundles) -> None:
    response = httpx.post(f"{server.url}/v1/models/penguin-lgb:explain", json={"instances": ROWS})
    assert response.status_code == 200, response.text
    explanations = response.json()["explanations"]
    model = sw.load_model(bundles["lightgbm"])
    assert [e["label"] for e in explanations] == model.predict(ROWS).tolist()
    raw_scores = model.native.predict(model.features_of(ROWS), raw_score=True)  # (rows, classes) log-odds
    for index, explanation in enumerate(explanations):
        assert list(explanation["contributions"]) == model.features
        total = explanation["base_value"] + sum(explanation["contributions"].values())
        assert total == pytest.approx(raw_scores[index][model.classes.index(explanation["label"])], abs=1e-9)
    refused = httpx.post(f"{server.url}/v1/models/penguin:explain", json={"instances": ROWS})
    assert refused.status_code == 400 and "tree models (lightgbm, xgboost)" in refused.json()["error"]
