"""`sluiceway monitor` over request logs at chosen times: skew, drift between windows, the reference found by
lineage, JSON/HTML output, the webhook (a real local HTTP receiver), and what too few rows or bad input do."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import monitoring_fixtures as mf
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

NOW = datetime.now(timezone.utc)


def monitor(trained: dict[str, Path], logs: Path, env: dict[str, str], *args: str) -> Any:
    return run_cli(
        [
            "monitor",
            "--logs",
            str(logs),
            "--statistics",
            str(trained["statistics"]),
            "--schema",
            str(trained["schema"]),
            *args,
        ],
        env,
    )


def report(result: Any) -> dict[str, Any]:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def test_training_like_traffic_passes_and_shifted_traffic_is_skew(trained, tmp_path, cli_env) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "same", NOW - timedelta(minutes=5), mf.draw(4000, seed=11))
    mf.write_log(logs, "shifted", NOW - timedelta(minutes=5), mf.draw(4000, seed=12, shift=0.8))

    same = monitor(trained, logs, cli_env, "--model", "same", "--json")
    assert same.returncode == 0, same.stdout + same.stderr
    body = report(same)
    assert body["status"] == "ok" and body["rows"] == 4000
    skew = {c["feature"]: c for c in body["anomalies"]["comparisons"] if c["kind"] == "skew"}
    assert set(skew) == {"x", "amount", "color"}
    # passed on the score itself (below the threshold), not because of sampling noise
    assert all(c["verdict"] == "passed" and c["score"] < c["threshold"] for c in skew.values()), skew

    shifted = monitor(trained, logs, cli_env, "--model", "shifted", "--json")
    assert shifted.returncode == 1, shifted.stdout + shifted.stderr
    body = report(shifted)
    assert body["status"] == "anomalies"
    flagged = {a["feature"]: a for a in body["anomalies"]["anomalies"]}
    assert flagged["x"]["kind"] == "COMPARATOR_KS_DISTANCE_HIGH"
    assert flagged["amount"]["kind"] == "COMPARATOR_KS_DISTANCE_HIGH"
    assert flagged["x"]["comparison"]["score"] > 3 * flagged["x"]["comparison"]["noise_bound"]
    assert "color" not in flagged  # its distribution did not move

    text = monitor(trained, logs, cli_env, "--model", "shifted")
    assert text.returncode == 1
    assert "COMPARATOR_KS_DISTANCE_HIGH" in text.stdout and "Kolmogorov-Smirnov distance between" in text.stdout


def test_drift_compares_the_window_with_the_one_before(trained, tmp_path, cli_env) -> None:
    logs = tmp_path / "logs"
    # the previous hour saw one mix of colours, the last hour another; x and amount did not move
    mf.write_log(logs, "m", NOW - timedelta(minutes=90), mf.draw(3000, seed=21, colors=(0.5, 0.3, 0.2)), seq=1)
    mf.write_log(logs, "m", NOW - timedelta(minutes=20), mf.draw(3000, seed=22, colors=(0.2, 0.3, 0.5)), seq=2)
    html = tmp_path / "report.html"

    result = monitor(trained, logs, cli_env, "--model", "m", "--window", "1h", "--json", "--html", str(html))
    assert result.returncode == 1, result.stdout + result.stderr
    body = report(result)
    assert body["rows"] == 3000 and body["baseline_rows"] == 3000
    drift = {c["feature"]: c for c in body["anomalies"]["comparisons"] if c["kind"] == "drift"}
    assert drift["color"]["verdict"] == "drifted" and drift["color"]["method"] == "infinity_norm"
    assert drift["x"]["verdict"] == "passed" and drift["amount"]["verdict"] == "passed"
    assert "High Linfty distance" in html.read_text(encoding="utf-8")

    # a window that ends before the first logged request: nothing to judge, exit 3, said plainly
    early = monitor(trained, logs, cli_env, "--model", "m", "--since", (NOW - timedelta(minutes=10)).isoformat())
    assert early.returncode == 3, early.stdout + early.stderr
    assert "0 logged rows of 'm' in the window, fewer than the 30 needed" in early.stderr
    assert "NO DATA" in early.stdout


def test_too_few_rows_in_the_previous_window_skips_drift_only(trained, tmp_path, cli_env) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "m", NOW - timedelta(minutes=90), mf.draw(5, seed=31), seq=1)
    mf.write_log(logs, "m", NOW - timedelta(minutes=20), mf.draw(2000, seed=32), seq=2)
    body = report(monitor(trained, logs, cli_env, "--model", "m", "--window", "1h", "--json"))
    assert body["status"] == "ok" and body["baseline_rows"] == 5
    assert any("Drift not checked: the previous window holds 5 logged rows" in n for n in body["notes"])
    assert not [c for c in body["anomalies"]["comparisons"] if c["kind"] == "drift"]


def test_the_reference_is_found_through_lineage_from_the_serving_directory(trained, tmp_path, cli_env) -> None:
    serving = tmp_path / "serving"
    mf.sf.publish(trained["model"], serving, "found", 1)
    logs = tmp_path / "logs"
    mf.write_log(logs, "found", NOW - timedelta(minutes=5), mf.draw(3000, seed=41, shift=0.8))
    store = f"sqlite:///{trained['store']}"
    result = run_cli(
        ["--store", store, "monitor", "--logs", str(logs), "--model", "found", "--model-dir", str(serving), "--json"],
        cli_env,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    body = report(result)
    assert body["reference"].startswith("lineage of Model artifact ")
    assert {"x", "amount"} <= {a["feature"] for a in body["anomalies"]["anomalies"]}

    # a bundle the store never saw: a clear error, exit 2
    other = tmp_path / "other"
    mf.sf.publish(trained["model"], other, "found", 1)
    (other / "found" / "1" / "bundle.json").write_text("{}", encoding="utf-8")
    refused = run_cli(
        ["--store", store, "monitor", "--logs", str(logs), "--model", "found", "--model-dir", str(other)], cli_env
    )
    assert refused.returncode == 2
    assert "No Model artifact in the metadata store has the bundle served from" in refused.stderr


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        type(self).bodies.append({"type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


@pytest.fixture
def receiver():  # noqa: ANN201 - a generator fixture
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.bodies
    server.shutdown()
    server.server_close()


def test_the_webhook_gets_the_report_when_thresholds_are_crossed(trained, tmp_path, cli_env, receiver) -> None:
    url, bodies = receiver
    logs = tmp_path / "logs"
    mf.write_log(logs, "calm", NOW - timedelta(minutes=5), mf.draw(3000, seed=51))
    mf.write_log(logs, "alarm", NOW - timedelta(minutes=5), mf.draw(3000, seed=52, shift=0.8))

    assert monitor(trained, logs, cli_env, "--model", "calm", "--webhook", url).returncode == 0
    assert bodies == []  # no alert without anomalies
    alarm = monitor(trained, logs, cli_env, "--model", "alarm", "--webhook", url)
    assert alarm.returncode == 1, alarm.stderr
    assert len(bodies) == 1
    assert bodies[0]["type"] == "application/json"
    sent = bodies[0]["body"]
    assert sent["format"] == "sluiceway.monitor" and sent["model"] == "alarm" and sent["status"] == "anomalies"
    assert "x" in {a["feature"] for a in sent["anomalies"]["anomalies"]}

    # an unreachable webhook is an error of its own, not a silent success
    dead = monitor(trained, logs, cli_env, "--model", "alarm", "--webhook", "http://127.0.0.1:9/none")
    assert dead.returncode == 1
    assert "could not be sent to the webhook http://127.0.0.1:9/none" in dead.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nobody"], "has no folder for the model 'nobody'"),
        (["--model", "m", "--window", "soon"], "The --window must be a duration such as 30m"),
        (["--model", "m", "--since", "yesterday"], "The --since time must be an ISO 8601 time"),
        (["--model", "m", "--window", "1h", "--since", "2026-01-01"], "Give either --since or --window, not both"),
        (["--model", "../etc"], "The model name must match"),
    ],
)
def test_bad_input_is_refused_with_exit_2(trained, tmp_path, cli_env, args: list[str], message: str) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "m", NOW - timedelta(minutes=5), mf.draw(50, seed=61))
    result = monitor(trained, logs, cli_env, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_without_a_reference_it_says_what_to_give(tmp_path, cli_env) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "m", NOW - timedelta(minutes=5), mf.draw(50, seed=71))
    result = run_cli(["monitor", "--logs", str(logs), "--model", "m"], cli_env)
    assert result.returncode == 2
    assert "give --model-dir" in result.stderr and "--statistics and --schema" in result.stderr


def test_model_version_keeps_the_requests_that_version_answered(trained, tmp_path, cli_env) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "m", NOW - timedelta(minutes=9), mf.draw(2000, seed=81, shift=0.8), version=1, seq=1)
    mf.write_log(logs, "m", NOW - timedelta(minutes=4), mf.draw(2000, seed=82), version=2, seq=2)

    both = report(monitor(trained, logs, cli_env, "--model", "m", "--json"))
    assert both["status"] == "anomalies" and both["model_versions"] == [1, 2] and both["rows"] == 4000
    second = monitor(trained, logs, cli_env, "--model", "m", "--model-version", "2", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    body = report(second)
    assert body["model_versions"] == [2] and body["rows"] == 2000
