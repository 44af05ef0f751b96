"""InfraValidator: start the real model server on the candidate model and check it answers, in time.

    InfraValidator(model=trainer.model, examples=example_gen.examples, max_p99_ms=50)

In a temporary serving directory (``{tmp}/candidate/1/``, the Pusher's layout), the component starts
``sluiceway serve`` as a separate process on a free port of 127.0.0.1, waits until the model is loaded (at
most ``load_timeout_s``), sends ``warmup_requests`` then ``num_requests`` TensorFlow Serving predict
requests of ``batch_size`` real rows each from the ``split`` of ``examples`` (only the features of the
model's signature: what a client sends), one at a time on one connection, checks every answer is
well-formed (status 200, one prediction per row, a known class and probabilities summing to 1, or a
finite number), measures latency and stops the server.

Output ``InfraBlessing`` (property ``blessed``), its folder holding ``BLESSED`` or ``NOT_BLESSED`` and
``blessing.json``: ``blessed``, ``reasons`` (every failed check, e.g. the server's load error for a model
that cannot load), ``requests``, ``failed_requests``, ``latency_ms`` (``p50``, ``p90``, ``p99``, ``max``,
``mean``), ``load_seconds``, ``max_p99_ms`` and the server's ``runtime``. A model that is not blessed is a
successful execution with a negative blessing (the Pusher skips it), not a failed run.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from sluiceway.artifacts import Examples, InfraBlessing, Model
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import DataError, DefinitionError

CANDIDATE = "candidate"
STDERR_TAIL = 4000  # characters of the server's output quoted in a reason


class InfraValidator(Component):
    """Model + Examples → InfraBlessing: the real server loads the model and answers canaries in time."""

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        from sluiceway.serving.config import RUNTIMES

        if parameters.get("runtime", "native") not in RUNTIMES:
            raise DefinitionError(
                f"The 'runtime' parameter of {owner} must be one of {list(RUNTIMES)}. "
                f"Got {parameters['runtime']!r} instead."
            )

    def execute(  # type: ignore[override]
        self,
        model: Input[Model],
        examples: Input[Examples],
        blessing: Output[InfraBlessing],
        *,
        split: str = "eval",
        num_requests: Annotated[int, Field(ge=1)] = 100,
        warmup_requests: Annotated[int, Field(ge=0)] = 5,
        batch_size: Annotated[int, Field(ge=1)] = 1,
        max_p99_ms: Annotated[float, Field(gt=0)] = 100.0,
        load_timeout_s: Annotated[float, Field(gt=0)] = 120.0,
        request_timeout_s: Annotated[float, Field(gt=0)] = 10.0,
        runtime: str = "native",
    ) -> None:
        from sluiceway.serving.server import check_serve_extra

        check_serve_extra()
        canaries = _canary_rows(model, examples, split)
        with tempfile.TemporaryDirectory(prefix="sluiceway-infra-") as scratch:
            folder = Path(scratch)
            shutil.copytree(model.path, folder / "models" / CANDIDATE / "1")
            for _attempt in range(3):  # the free port may be taken between choosing it and binding it
                server = _Server(folder, runtime)
                try:
                    report = _validate(
                        server,
                        canaries,
                        num_requests=num_requests,
                        warmup_requests=warmup_requests,
                        batch_size=batch_size,
                        max_p99_ms=max_p99_ms,
                        load_timeout_s=load_timeout_s,
                        request_timeout_s=request_timeout_s,
                    )
                finally:
                    server.stop()
                if not any("address already in use" in reason for reason in report["reasons"]):
                    break
        report["runtime"] = runtime
        write_blessing(blessing, report)


def write_blessing(blessing: InfraBlessing, report: dict[str, Any]) -> None:
    """The blessing's marker file and ``blessing.json``, and its ``blessed`` property."""
    folder = blessing.path
    folder.mkdir(parents=True, exist_ok=True)
    blessed = bool(report["blessed"])
    (folder / (InfraBlessing.BLESSED_MARKER if blessed else InfraBlessing.NOT_BLESSED_MARKER)).write_text("")
    (folder / InfraBlessing.FILENAME).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    blessing.properties["blessed"] = blessed


def _canary_rows(model: Model, examples: Examples, split: str) -> list[dict[str, Any]]:
    """Real rows of the split, holding only the features the model's signature asks for."""
    from sluiceway.trainer.bundle import read_manifest

    try:
        inputs = [spec["name"] for spec in read_manifest(model.path)["signature"]["inputs"]]
    except DataError:
        return []  # the server reports why the bundle does not load: that is the reason to give
    table = examples.read(split, columns=None)
    missing = [name for name in inputs if name not in table.column_names]
    if missing:
        raise DataError(
            f"InfraValidator: the {split!r} split of {examples.uri} lacks the model's input feature(s) {missing}; "
            f"it has {table.column_names}. Give the raw examples the model was trained on (not transformed ones)."
        )
    if table.num_rows == 0:
        raise DataError(f"InfraValidator: the {split!r} split of {examples.uri} has no rows to build canaries from.")
    rows = table.select(inputs).slice(0, 10_000).to_pylist()
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]


class _Server:
    """`sluiceway serve` on a free port, its output in a file (a pipe could fill up and stall it)."""

    def __init__(self, folder: Path, runtime: str) -> None:
        self.port = _free_port()
        self.log_path = folder / "server.log"
        self._log = self.log_path.open("w")
        command = [
            sys.executable,
            "-m",
            "sluiceway",
            "serve",
            "--model-dir",
            str(folder / "models"),
            "--port",
            str(self.port),
            "--runtime",
            runtime,
            "--poll-seconds",
            "3600",
        ]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ))
        self.started = time.monotonic()

    def output(self) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return text[-STDERR_TAIL:].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[int, Any]:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    return response.status, json.loads(body) if body else None


def _wait_loaded(server: _Server, timeout: float) -> str | None:
    """None once the candidate serves; else why not (its load error, the server's exit, or the timeout)."""
    deadline = server.started + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return (
                f"the model server exited with code {server.process.returncode} before it was ready: {server.output()}"
            )
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            status, body = _get(connection, f"/v1/models/{CANDIDATE}")
            connection.close()
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.1)  # not listening yet (loading): poll again
            continue
        states = (body or {}).get("model_version_status", []) if status == 200 else []
        if any(s.get("state") == "AVAILABLE" for s in states):
            return None
        errors = [s["status"]["error_message"] for s in states if s.get("state") == "END"]
        if errors:
            return f"the model server could not load the model: {errors[0]}"
        time.sleep(0.1)
    return f"the model server did not load the model within {timeout:g} s (load_timeout_s)"


def _validate(
    server: _Server,
    canaries: list[dict[str, Any]],
    *,
    num_requests: int,
    warmup_requests: int,
    batch_size: int,
    max_p99_ms: float,
    load_timeout_s: float,
    request_timeout_s: float,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "blessed": False,
        "reasons": [],
        "requests": 0,
        "failed_requests": 0,
        "max_p99_ms": max_p99_ms,
        "batch_size": batch_size,
    }
    problem = _wait_loaded(server, load_timeout_s)
    report["load_seconds"] = round(time.monotonic() - server.started, 3)
    if problem is not None:
        report["reasons"].append(problem)
        return report
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=request_timeout_s)
    _, metadata = _get(connection, f"/v1/models/{CANDIDATE}/metadata")
    classes = metadata["sluiceway"]["classes"]
    latencies: list[float] = []
    failures: list[str] = []
    for index in range(warmup_requests + num_requests):
        rows = [canaries[(index * batch_size + i) % len(canaries)] for i in range(batch_size)]
        body = json.dumps({"instances": rows}, default=str).encode()  # dates and times as ISO text
        started = time.perf_counter()
        try:
            connection.request("POST", f"/v1/models/{CANDIDATE}:predict", body, {"content-type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"request {index}: {type(exc).__name__}: {exc}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=request_timeout_s)
            continue
        elapsed = time.perf_counter() - started
        if index < warmup_requests:
            continue
        latencies.append(elapsed * 1000)
        problem = _malformed(response.status, payload, len(rows), classes)
        if problem is not None:
            failures.append(f"request {index - warmup_requests}: {problem}")
    connection.close()
    report["requests"] = num_requests
    report["failed_requests"] = len(failures)
    if failures:
        report["reasons"].append(f"{len(failures)} of {num_requests} canary requests failed; first: {failures[0]}")
    if latencies:
        report["latency_ms"] = _latency_summary(latencies)
        if report["latency_ms"]["p99"] > max_p99_ms:
            report["reasons"].append(
                f"p99 latency {report['latency_ms']['p99']:.2f} ms is above max_p99_ms={max_p99_ms:g}"
            )
    report["blessed"] = not report["reasons"]
    return report


def _malformed(status: int, payload: bytes, rows: int, classes: list[Any] | None) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return f"status {status}, a body that is not JSON: {payload[:200]!r}"
    if status != 200:
        return f"status {status}: {body.get('error') if isinstance(body, dict) else body}"
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != rows:
        return f"expected {rows} predictions, got {str(body)[:200]}"
    for prediction in predictions:
        if classes is None:
            if not (isinstance(prediction, (int, float)) and math.isfinite(prediction)):
                return f"a prediction that is not a finite number: {prediction!r}"
            continue
        probabilities = prediction.get("probabilities") if isinstance(prediction, dict) else None
        if prediction.get("label") not in classes or not isinstance(probabilities, list):
            return f"a prediction without a known label and probabilities: {str(prediction)[:200]}"
        if len(probabilities) != len(classes) or abs(sum(probabilities) - 1.0) > 1e-6:
            return f"probabilities that do not sum to 1 over {len(classes)} classes: {probabilities}"
    return None


def _latency_summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def quantile(q: float) -> float:  # nearest rank: a real observed latency
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {
        "p50": round(quantile(0.5), 3),
        "p90": round(quantile(0.9), 3),
        "p99": round(quantile(0.99), 3),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
    }
