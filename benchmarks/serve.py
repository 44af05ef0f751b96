#!/usr/bin/env python
"""Model server throughput and latency under load: `sluiceway serve` vs MLflow vs a bare ASGI echo.

    .venv/bin/python benchmarks/serve.py                      # 1 and 100 rows, 8 connections, 15 s each
    .venv/bin/python benchmarks/serve.py --duration 30 --skip-mlflow

The penguin model of examples/penguin (its preprocessing_fn and run_fn, trained by a real pipeline with
``onnx=True``, see benchmarks/predict.py) is served by:
  sluiceway native   `sluiceway serve`, 1 worker, the scikit-learn model (TF Serving REST ``:predict``)
  sluiceway onnx     the same with ``--runtime onnx`` (the bundle's ONNX export on onnxruntime)
  mlflow             `mlflow models serve --env-manager local`, 1 worker (MLflow 3.17, in its own venv under
                     .bench/mlflow-venv, installed on first use), serving the same preprocessing and model as
                     a scikit-learn Pipeline (mean-impute + z-score, vocabularies, 5 quantile buckets of
                     body mass, the flipper/bill ratio, median-impute + LogisticRegression) logged with
                     mlflow.sklearn, fed ``dataframe_records``
  echo               a raw ASGI app on the same uvicorn + httptools + uvloop stack that parses the same JSON
                     body with orjson and sends it back: the ceiling of the stack on this machine
Load: Debian's `wrk -t2 -c8 --latency` on 127.0.0.1 (`apt-get install wrk`), each server in its own process,
one at a time, after 2 s of warm-up load. Sluiceway answers label and class probabilities; MLflow the label.
The machine may be shared: the load average is printed beside every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = ROOT / ".bench"
MLFLOW_VENV = BENCH / "mlflow-venv"
MLFLOW_PACKAGES = ["mlflow==3.17.*", "scikit-learn", "pandas"]
sys.path.insert(0, str(HERE))

ECHO_APP = """
import orjson, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = orjson.dumps(orjson.loads(body)) if body else b"{}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})

uvicorn.run(app, host="127.0.0.1", port={port}, http="httptools", loop="uvloop", lifespan="off",
            access_log=False, log_config=None, server_header=False, date_header=False)
"""

MLFLOW_FIT = """
import sys
import mlflow.sklearn, numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OrdinalEncoder, StandardScaler

csv, out = sys.argv[1], sys.argv[2]
frame = pd.read_csv(csv).dropna(subset=["species"])
numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
X, y = frame[numeric + ["island", "sex"]], frame["species"]
ratio = FunctionTransformer(lambda f: (f.iloc[:, 0] / f.iloc[:, 1]).to_frame())
features = ColumnTransformer([
    ("z", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
    ("island", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["island"]),
    ("sex", make_pipeline(SimpleImputer(strategy="constant", fill_value="unknown"),
                          OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)), ["sex"]),
    ("mass", make_pipeline(SimpleImputer(strategy="median"),
                           KBinsDiscretizer(n_bins=5, encode="ordinal", strategy="quantile")), ["body_mass_g"]),
    ("ratio", ratio, ["flipper_length_mm", "bill_length_mm"]),
])
model = make_pipeline(features, SimpleImputer(strategy="median"),
                      LogisticRegression(max_iter=1000, random_state=0)).fit(X, y)
mlflow.sklearn.save_model(model, out, input_example=X.head(2), serialization_format="cloudpickle")
print("accuracy", model.score(X, y))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen, timeout: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} was not ready within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wrk(url: str, body: str, duration: int, connections: int, scratch: Path) -> dict[str, float]:
    script = scratch / f"post-{abs(hash(body))}.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\nwrk.headers["Content-Type"] = "application/json"\n'
    )
    base = ["wrk", "-t2", f"-c{connections}", "--latency", "-s", str(script), url]
    subprocess.run([*base[:3], "-d2s", *base[3:]], capture_output=True, check=True)  # warm-up
    result = subprocess.run([*base[:3], f"-d{duration}s", *base[3:]], capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}  # type: ignore[union-attr]
    for percent in ("50", "99"):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
        figures[f"p{percent}"] = ms(*match.groups()) if match else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    figures["errors"] = float(errors.group(1)) if errors else 0.0
    return figures


def ensure_mlflow() -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        print(f"installing {MLFLOW_PACKAGES} into {MLFLOW_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *MLFLOW_PACKAGES], check=True)
    return python


def sluiceway_model(scratch: Path) -> Path:
    """The penguin model, trained once, published as {models}/penguin/1/."""
    from predict import train

    models = BENCH / "serve" / "models"
    if not (models / "penguin" / "1").is_dir():
        uri, _ = train("penguin", scratch / "train")
        (models / "penguin").mkdir(parents=True, exist_ok=True)
        shutil.copytree(uri, models / "penguin" / "1")
    return models


def mlflow_model(python: Path) -> Path:
    from pipeline import penguins_csv  # examples/penguin, on the path through benchmarks/predict.py

    model = BENCH / "serve" / "mlflow-model"
    if not model.is_dir():
        subprocess.run([str(python), "-c", MLFLOW_FIT, penguins_csv(), str(model)], check=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian)")
    import predict  # noqa: F401 - puts examples/penguin on the path

    row = {
        "island": "Biscoe",
        "bill_length_mm": 46.1,
        "bill_depth_mm": 13.2,
        "flipper_length_mm": 211,
        "body_mass_g": 4500,
        "sex": "female",
    }
    bodies = {
        "sluiceway": {n: json.dumps({"instances": [row] * n}) for n in (1, 100)},
        "mlflow": {n: json.dumps({"dataframe_records": [row] * n}) for n in (1, 100)},
    }
    BENCH.mkdir(exist_ok=True)
    results: list[tuple[str, int, dict[str, float], tuple[float, ...]]] = []
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sluiceway-bench-serve-") as scratch_name:
        scratch = Path(scratch_name)
        models = sluiceway_model(scratch)
        servers: list[tuple[str, list[str], dict[str, str], str, str, str]] = []
        for runtime in ("native", "onnx"):
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "sluiceway",
                "serve",
                "--model-dir",
                str(models),
                "--port",
                str(port),
                "--runtime",
                runtime,
            ]
            servers.append(
                (
                    f"sluiceway {runtime}",
                    command,
                    {},
                    f"http://127.0.0.1:{port}/v2/health/ready",
                    f"http://127.0.0.1:{port}/v1/models/penguin:predict",
                    "sluiceway",
                )
            )
        port = free_port()
        servers.append(
            (
                "echo",
                [sys.executable, "-c", ECHO_APP.replace("{port}", str(port))],
                {},
                "",
                f"http://127.0.0.1:{port}/",
                "sluiceway",
            )
        )
        if not args.skip_mlflow:
            python = ensure_mlflow()
            model = mlflow_model(python)
            port = free_port()
            path = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"  # mlflow execs its venv's uvicorn
            servers.append(
                (
                    "mlflow",
                    [
                        str(python.parent / "mlflow"),
                        "models",
                        "serve",
                        "-m",
                        str(model),
                        "--env-manager",
                        "local",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                    ],
                    {"PATH": path},
                    f"http://127.0.0.1:{port}/ping",
                    f"http://127.0.0.1:{port}/invocations",
                    "mlflow",
                )
            )
        for name, command, env, ready, url, body_kind in servers:
            process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                if ready:
                    wait_http(ready, process)
                else:
                    time.sleep(2)  # the echo app has no route to poll: give uvicorn its start-up
                for rows in (1, 100):
                    figures = wrk(url, bodies[body_kind][rows], args.duration, args.connections, scratch)
                    load = os.getloadavg()
                    results.append((name, rows, figures, load))
                    print(
                        f"{name:17} {rows:3} rows: {figures['rps']:9.0f} req/s  p50 {figures['p50']:8.2f} ms  "
                        f"p99 {figures['p99']:8.2f} ms  non-2xx {figures['errors']:.0f}  load {load[0]:.2f}",
                        flush=True,
                    )
            finally:
                stop(process)
    report(results, args)


def report(results: list[tuple[str, int, dict[str, float], tuple[float, ...]]], args: argparse.Namespace) -> None:
    by = {(name, rows): figures for name, rows, figures, _ in results}
    print(
        "\n| server | rows/request | req/s | rows/s | p50 | p99 | vs MLflow req/s | vs MLflow p50 | of echo req/s |"
        " load (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, rows, figures, load in results:
        mlflow, echo = by.get(("mlflow", rows)), by.get(("echo", rows))
        versus = f"{figures['rps'] / mlflow['rps']:.1f}x" if mlflow else "-"
        versus_p50 = f"{figures['p50'] / mlflow['p50']:.3f}x" if mlflow else "-"
        of_echo = f"{figures['rps'] / echo['rps']:.1%}" if echo else "-"
        print(
            f"| {name} | {rows} | {figures['rps']:.0f} | {figures['rps'] * rows:.0f} | {figures['p50']:.2f} ms | "
            f"{figures['p99']:.2f} ms | {versus} | {versus_p50} | {of_echo} | {load[0]:.2f} |"
        )
    print(
        f"\nwrk -t2 -c{args.connections} -d{args.duration}s --latency, 127.0.0.1; load average at end: "
        f"{os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
