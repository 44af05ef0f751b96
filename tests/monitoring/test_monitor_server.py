"""Monitoring live traffic end to end: a real `sluiceway serve` process logs the requests it answers, and
`sluiceway monitor` flags traffic drawn from a shifted distribution but not traffic drawn from the training
distribution (seeded; 3,000 rows each against 8,000 training rows, so the noise bounds are well under the
thresholds and a pass is a pass on the score)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import monitoring_fixtures as mf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

BATCH = 100


def send(url: str, model: str, instances: list[dict]) -> None:
    with httpx.Client(timeout=30) as client:
        for i in range(0, len(instances), BATCH):
            response = client.post(f"{url}/v1/models/{model}:predict", json={"instances": instances[i : i + BATCH]})
            assert response.status_code == 200, response.text


def test_shifted_live_traffic_is_flagged_and_training_traffic_is_not(trained, tmp_path, cli_env) -> None:
    serving, logs = tmp_path / "serving", tmp_path / "logs"
    mf.sf.publish(trained["model"], serving, "calm", 1)
    mf.sf.publish(trained["model"], serving, "shifted", 1)
    with mf.sf.ServerProcess(serving, "--log-dir", str(logs), "--log-rate", "1") as server:
        send(server.url, "calm", mf.rows(mf.draw(3000, seed=101)))
        send(server.url, "shifted", mf.rows(mf.draw(3000, seed=102, shift=0.8)))
    # the server wrote its log at shutdown; the reference comes from the store's lineage
    store = f"sqlite:///{trained['store']}"
    base = ["--store", store, "monitor", "--logs", str(logs), "--model-dir", str(serving), "--json"]

    calm = run_cli([*base, "--model", "calm"], cli_env)
    assert calm.returncode == 0, calm.stdout + calm.stderr
    body = json.loads(calm.stdout)
    assert body["rows"] == 3000 and body["model_versions"] == [1]
    skew = [c for c in body["anomalies"]["comparisons"] if c["kind"] == "skew"]
    assert {c["feature"] for c in skew} == {"x", "amount", "color"}
    assert all(c["verdict"] == "passed" and c["score"] < c["threshold"] for c in skew), skew
    assert all(c["noise_bound"] < c["threshold"] for c in skew if c["method"] == "ks_distance"), skew

    shifted = run_cli([*base, "--model", "shifted"], cli_env)
    assert shifted.returncode == 1, shifted.stdout + shifted.stderr
    body = json.loads(shifted.stdout)
    flagged = {a["feature"]: a["kind"] for a in body["anomalies"]["anomalies"]}
    assert flagged == {"x": "COMPARATOR_KS_DISTANCE_HIGH", "amount": "COMPARATOR_KS_DISTANCE_HIGH"}
