"""Running a server: hot reload under load, a version that does not load, the token, /metrics, the request
log, several workers. Each test starts its own `sluiceway serve` process."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import serving_fixtures as sf

import sluiceway as sw

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PREDICT = "/v1/models/penguin:predict"


def _wait_for(condition, timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_hot_reload_under_load_fails_no_request(tmp_path: Path, bundles) -> None:
    sf.publish(bundles["sklearn-weak"], tmp_path, "penguin", 1)
    failures: list[str] = []
    versions: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                try:
                    response = client.post(PREDICT, json={"instances": [sf.ROW]})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    versions.append(response.headers["sluiceway-model-version"])

    with sf.ServerProcess(tmp_path, "--poll-seconds", "0.1") as server:
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            _wait_for(lambda: len(versions) >= 50, what="50 answers from version 1")
            sf.publish(bundles["sklearn"], tmp_path, "penguin", 2)
            _wait_for(lambda: versions.count("2") >= 50, what="50 answers from version 2")
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert failures == []
        first_two = versions.index("2")
        assert set(versions[:first_two]) == {"1"} and "1" in versions
        # after the swap, the answers are version 2's
        row = httpx.post(server.url + PREDICT, json={"instances": [sf.ROW]}).json()["predictions"][0]
        np.testing.assert_allclose(row["probabilities"], sw.load_model(bundles["sklearn"]).predict_proba(sf.ROW)[0])


def test_a_version_that_does_not_load_is_reported_and_the_previous_one_serves(tmp_path: Path, bundles) -> None:
    sf.publish(bundles["sklearn"], tmp_path, "penguin", 1)
    broken = sf.publish(bundles["sklearn-weak"], tmp_path / "staging", "penguin", 2)
    (broken / "model" / "model.skops").write_bytes(b"tampered")
    with sf.ServerProcess(tmp_path, "--poll-seconds", "0.1") as server:
        (tmp_path / "staging" / "penguin" / "2").rename(tmp_path / "penguin" / "2")

        def reported() -> bool:
            statuses = httpx.get(server.url + "/v1/models/penguin").json()["model_version_status"]
            return any(s["version"] == "2" and s["state"] == "END" for s in statuses)

        _wait_for(reported, what="version 2's load failure in the status")
        statuses = httpx.get(server.url + "/v1/models/penguin").json()["model_version_status"]
        assert statuses[0]["version"] == "1" and statuses[0]["state"] == "AVAILABLE"
        assert "was modified after the model was saved" in statuses[1]["status"]["error_message"]
        response = httpx.post(server.url + PREDICT, json={"instances": [sf.ROW]})
        assert response.status_code == 200 and response.headers["sluiceway-model-version"] == "1"
        by_path = httpx.post(server.url + "/v1/models/penguin/versions/2:predict", json={"instances": [sf.ROW]})
        assert by_path.status_code == 503 and "does not load" in by_path.json()["error"]


def test_the_token_guards_every_route_but_health(tmp_path: Path, bundles) -> None:
    sf.publish(bundles["sklearn"], tmp_path, "penguin", 1)
    with sf.ServerProcess(tmp_path, env={"SLUICEWAY_SERVE_TOKEN": "s3cret"}) as server:
        assert httpx.get(server.url + "/v2/health/live").status_code == 200
        assert httpx.get(server.url + "/v2/health/ready").status_code == 200
        for method, path in [
            ("POST", PREDICT),
            ("GET", "/v1/models/penguin"),
            ("GET", "/v2/models/penguin"),
            ("POST", "/v2/models/penguin/infer"),
            ("GET", "/metrics"),
            ("GET", "/openapi.json"),
        ]:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"}):
                response = httpx.request(method, server.url + path, headers=headers, json={"instances": [sf.ROW]})
                assert response.status_code == 401, (path, headers)
                assert "Authorization: Bearer" in response.json()["error"]
        good = httpx.post(
            server.url + PREDICT, json={"instances": [sf.ROW]}, headers={"authorization": "Bearer s3cret"}
        )
        assert good.status_code == 200
        spec = httpx.get(server.url + "/openapi.json", headers={"authorization": "Bearer s3cret"}).json()
        assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_errors_rows_and_latency_per_model_and_version(tmp_path: Path, bundles) -> None:
    sf.publish(bundles["sklearn"], tmp_path, "penguin", 1)
    with sf.ServerProcess(tmp_path) as server:
        for _ in range(3):
            assert httpx.post(server.url + PREDICT, json={"instances": [sf.ROW, sf.ROW]}).status_code == 200
        assert httpx.post(server.url + PREDICT, json={"instances": [{"island": 1}]}).status_code == 400
        text = httpx.get(server.url + "/metrics").text
    ok = {"model": "penguin", "version": "1", "protocol": "v1"}
    assert _metric(text, "sluiceway_requests_total", **ok, code="200") == 3
    assert _metric(text, "sluiceway_requests_total", **ok, code="400") == 1
    assert _metric(text, "sluiceway_predicted_rows_total", model="penguin", version="1") == 6
    assert _metric(text, "sluiceway_request_seconds_count", **ok) == 4
    assert _metric(text, "sluiceway_model_version", model="penguin") == 1
    assert _metric(text, "sluiceway_model_loads_total", model="penguin", outcome="loaded") == 1


def test_sampled_requests_are_logged_to_parquet(tmp_path: Path, bundles) -> None:
    models, logs = tmp_path / "models", tmp_path / "logs"
    sf.publish(bundles["sklearn"], models, "penguin", 3)
    rows = [sf.ROW, {**sf.ROW, "sex": None, "island": "Dream"}]
    with sf.ServerProcess(models, "--log-dir", str(logs), "--log-rate", "1") as server:
        first = httpx.post(server.url + PREDICT, json={"instances": rows}).json()["predictions"]
        infer = {
            "inputs": [
                {
                    "name": k,
                    "datatype": "BYTES" if isinstance(v, str) else ("INT64" if isinstance(v, int) else "FP64"),
                    "shape": [1],
                    "data": [v],
                }
                for k, v in sf.ROW.items()
            ]
        }
        assert httpx.post(server.url + "/v2/models/penguin/infer", json=infer).status_code == 200
        assert httpx.post(server.url + PREDICT, json={"instances": [{"island": 5}]}).status_code == 400
    # stopped: the log is flushed at shutdown
    files = sorted((logs / "penguin").rglob("*.parquet"))
    assert files and all(f.parent.name.count("-") == 2 for f in files)  # {model}/{YYYY-MM-DD}/
    import pyarrow as pa

    table = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist()  # in file order: write order
    assert len(table) == 3  # one row per instance of the two good requests; the bad one is not logged
    assert [r["island"] for r in table] == ["Biscoe", "Dream", "Biscoe"]
    assert table[1]["sex"] is None and table[0]["body_mass_g"] == 4500
    assert {r["model_version"] for r in table} == {3}
    assert table[0]["request_id"] == table[1]["request_id"] != table[2]["request_id"]
    assert [r["prediction"] for r in table[:2]] == [p["label"] for p in first]
    np.testing.assert_allclose(table[0]["probabilities"], first[0]["probabilities"])
    schema = pq.read_schema(files[0])
    assert str(schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("body_mass_g").type) == "int64" and str(schema.field("island").type) == "string"


def test_several_workers_serve_the_same_models(tmp_path: Path, bundles) -> None:
    sf.publish(bundles["sklearn"], tmp_path, "penguin", 1)
    with sf.ServerProcess(tmp_path, "--workers", "2") as server:
        server.wait_ready(path="/v2/health/ready")
        answers = [httpx.post(server.url + PREDICT, json={"instances": [sf.ROW]}) for _ in range(10)]
    assert all(a.status_code == 200 for a in answers)
    assert len({json.dumps(a.json()) for a in answers}) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-dir", "{missing}"], "does not exist or is not a directory"),
        (
            ["--model-dir", "{tmp}", "--log-rate", "2"],
            "'log_rate' setting of the model server must be a float in the range [0, 1]. Got 2.0",
        ),
        (["--model-dir", "{tmp}", "--runtime", "gpu"], "'runtime' setting of the model server must be one of"),
    ],
)
def test_bad_settings_stop_the_command_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    import subprocess

    args = [a.replace("{missing}", str(tmp_path / "missing")).replace("{tmp}", str(tmp_path)) for a in args]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": sf.SRC}
    result = subprocess.run([sf.SLUICEWAY, "serve", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
