"""Every class of bad request gets a 4xx that says what is wrong (feature, why), never a 500 or a hang."""

from __future__ import annotations

import json
import random
import re
import struct

import httpx
import pytest
import serving_fixtures as sf

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/penguin:predict"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"instances": [{**sf.ROW, "island": 3}]},
            400,
            r"Instance 0: feature 'island' got integer 3; it must be a string",
        ),
        (
            {"instances": [{**sf.ROW, "body_mass_g": "heavy"}]},
            400,
            r"feature 'body_mass_g' got string 'heavy'; it must be an integer",
        ),
        ({"instances": [{**sf.ROW, "body_mass_g": 4500.5}]}, 400, r"feature 'body_mass_g' got number 4500.5"),
        ({"instances": [{**sf.ROW, "bill_length_mm": True}]}, 400, r"feature 'bill_length_mm' got boolean True"),
        ({"instances": [{**sf.ROW, "bill_length_mm": [1, 2]}]}, 400, r"feature 'bill_length_mm' got array"),
        (
            {"instances": [{**sf.ROW, "body_mass_g": 2**70}]},
            400,
            r"feature 'body_mass_g' got number 1.18",
        ),  # orjson: a float
        (
            {"instances": [sf.ROW, {k: v for k, v in sf.ROW.items() if k != "sex"}]},
            400,
            r"Instance 1 lacks the feature 'sex' \(string\)",
        ),
        ({"instances": [sf.ROW, 5]}, 400, r"Instance 1 is integer 5; each instance must be an object"),
        ({"instances": []}, 400, r"no instances"),
        ({"instances": {"island": "Biscoe"}}, 400, r"'instances' must be a list of objects"),
        ({"instances": [sf.ROW] * 51}, 400, r"holds 51 instances; this server takes at most 50"),
        ({"inputs": {"island": ["Biscoe"]}}, 400, r"'inputs' lacks the feature"),
        ({"inputs": {**{k: [v] for k, v in sf.ROW.items()}, "sex": ["male", "female"]}}, 400, r"differ in length"),
        ({"rows": [sf.ROW]}, 400, r"needs 'instances' \(a list of rows\) or 'inputs'"),
        ([sf.ROW], 400, r"must be a JSON object"),
    ],
)
def test_bad_predict_requests_are_400_naming_the_feature(server: sf.ServerProcess, body, status, message) -> None:
    response = httpx.post(server.url + PREDICT, json=body)
    assert response.status_code == status, response.text
    assert re.search(message, response.json()["error"]), response.json()["error"]


def test_not_json_unknown_models_routes_methods_and_sizes(server: sf.ServerProcess) -> None:
    bad_json = httpx.post(server.url + PREDICT, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]
    unknown = httpx.post(f"{server.url}/v1/models/nope:predict", json={"instances": [sf.ROW]})
    assert unknown.status_code == 404 and "'nope' is not served here" in unknown.json()["error"]
    assert "penguin" in unknown.json()["error"]  # the served models are listed
    assert httpx.get(f"{server.url}/v2/models/nope/ready").status_code == 404
    assert httpx.get(f"{server.url}/v1/models/nope/metadata").status_code == 404
    assert httpx.get(f"{server.url}/no/such/route").status_code == 404
    wrong_method = httpx.get(server.url + PREDICT)
    assert wrong_method.status_code == 405 and "takes POST" in wrong_method.json()["error"]
    huge = httpx.post(server.url + PREDICT, content=b" " * 70_000)
    assert huge.status_code == 413 and "--max-body-bytes" in huge.json()["error"]

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(20):
            yield b" " * 8192

    streamed = httpx.post(server.url + PREDICT, content=chunks())
    assert streamed.status_code == 413
    gzip = httpx.post(server.url + PREDICT, content=b"x", headers={"content-encoding": "gzip"})
    assert gzip.status_code == 415


def _infer_request(**overrides):
    inputs = {
        "island": {"name": "island", "datatype": "BYTES", "shape": [1], "data": ["Biscoe"]},
        "sex": {"name": "sex", "datatype": "BYTES", "shape": [1], "data": ["female"]},
        "bill_length_mm": {"name": "bill_length_mm", "datatype": "FP64", "shape": [1], "data": [46.1]},
        "bill_depth_mm": {"name": "bill_depth_mm", "datatype": "FP64", "shape": [1], "data": [13.2]},
        "flipper_length_mm": {"name": "flipper_length_mm", "datatype": "INT64", "shape": [1], "data": [211]},
        "body_mass_g": {"name": "body_mass_g", "datatype": "INT64", "shape": [1], "data": [4500]},
    }
    for name, tensor in overrides.items():
        if tensor is None:
            del inputs[name]
        else:
            inputs[name] = {**inputs[name], **tensor}
    return {"inputs": list(inputs.values())}


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        (
            _infer_request(island={"datatype": "INT64", "data": [3]}),
            r"Input 'island' has datatype INT64; .* send BYTES",
        ),
        (_infer_request(sex=None), r"lacks the input 'sex' \(BYTES"),
        (_infer_request(body_mass_g={"shape": [2]}), r"Input 'body_mass_g' has shape \[2\] but holds 1 values"),
        (_infer_request(body_mass_g={"shape": [1, 3]}), r"a feature tensor is \[batch\] or \[batch, 1\]"),
        (_infer_request(body_mass_g={"datatype": "COMPLEX"}), r"datatype 'COMPLEX'"),
        (_infer_request(sex={"shape": [2], "data": ["a", "b"]}), r"holds 2 values, others 1|holds 1 values, others 2"),
        (_infer_request(island={"data": None}), r"needs 'data'"),
        (_infer_request(island={"data": [7]}), r"feature 'island' got integer 7"),
        ({"inputs": "x"}, r"needs 'inputs'"),
        ({**_infer_request(), "outputs": [{"name": "scores"}]}, r"Unknown output 'scores'"),
    ],
)
def test_bad_infer_requests_are_400(server: sf.ServerProcess, request_body, message) -> None:
    response = httpx.post(f"{server.url}/v2/models/penguin/infer", json=request_body)
    assert response.status_code == 400, response.text
    assert re.search(message, response.json()["error"]), response.json()["error"]


def test_bad_binary_tensors_are_400(server: sf.ServerProcess) -> None:
    request = _infer_request(body_mass_g={"parameters": {"binary_data_size": 8}})
    del request["inputs"][-1]["data"]
    header = json.dumps(request).encode()
    url = f"{server.url}/v2/models/penguin/infer"
    for tail, length, message in [
        (b"\x01\x02", len(header), "overruns the binary data"),  # 2 bytes for 8
        (struct.pack("<q", 4500), len(header) + 100, "Inference-Header-Content-Length is"),
        (struct.pack("<q", 4500), "x", "must be an integer"),
    ]:
        response = httpx.post(url, content=header + tail, headers={"inference-header-content-length": str(length)})
        assert response.status_code == 400 and message in response.json()["error"], response.text
    good = httpx.post(
        url, content=header + struct.pack("<q", 4500), headers={"inference-header-content-length": str(len(header))}
    )
    assert good.status_code == 200, good.text


def test_random_garbage_never_gets_a_5xx(server: sf.ServerProcess) -> None:
    """Seeded mutations of valid requests (types swapped, keys dropped, bytes flipped): only 200 or 4xx."""
    generator = random.Random(12)
    values = [None, 0, -1, 2**63, 1.5, "", "Biscoe", "\x00", True, [], {}, [1], {"a": 1}]
    statuses = set()
    with httpx.Client(base_url=server.url) as client:
        for trial in range(150):
            if trial % 3 == 0:
                body = _infer_request()
                tensor = generator.choice(body["inputs"])
                tensor[generator.choice(["data", "shape", "datatype", "name"])] = generator.choice(values)
                response = client.post("/v2/models/penguin/infer", json=body)
            elif trial % 3 == 1:
                row = dict(sf.ROW)
                row[generator.choice(list(row))] = generator.choice(values)
                response = client.post(PREDICT, json={"instances": [row]})
            else:
                raw = bytearray(json.dumps({"instances": [sf.ROW]}).encode())
                for _ in range(3):
                    raw[generator.randrange(len(raw))] = generator.randrange(256)
                response = client.post(PREDICT, content=bytes(raw))
            statuses.add(response.status_code)
            assert response.status_code < 500, (trial, response.text)
    assert 400 in statuses and 200 in statuses
