"""Helpers of the server tests: penguin models trained with the standard Trainer, published into a serving
directory the way the Pusher does (a staging folder, then one rename), and a real `sluiceway serve` process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import sluiceway as sw
from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen, Trainer, Transform

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer"))
import trainer_fixtures as fx  # noqa: E402

SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))
SRC = str(Path(sw.__file__).resolve().parents[1])
ROW = {
    "island": "Biscoe",
    "bill_length_mm": 46.1,
    "bill_depth_mm": 13.2,
    "flipper_length_mm": 211,
    "body_mass_g": 4500,
    "sex": "female",
}


def train_models(root: Path, *, lightgbm: bool = False) -> dict[str, Path]:
    """One pipeline run: a scikit-learn model (C=1) and a weaker one (C=0.001), plus LightGBM if asked.
    Returns the Model artifact folders by name."""
    gen = CsvExampleGen(input_pattern=str(fx.PENGUINS_CSV))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="species")
    transform = Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=fx.preprocessing_fn)
    specs = {"sklearn": (fx.sklearn_run_fn, {"C": 1.0}), "sklearn-weak": (fx.sklearn_run_fn, {"C": 0.001})}
    if lightgbm:
        specs["lightgbm"] = (fx.lightgbm_run_fn, {})
    trainers = [
        Trainer(
            id=f"Trainer-{name}",
            examples=transform.transformed_examples,
            transform_graph=transform.transform_graph,
            schema=schema.schema,
            run_fn=run_fn,
            train_args={"probe": str(root / name), **args},
        )
        for name, (run_fn, args) in specs.items()
    ]
    runner = sw.LocalRunner(store=f"sqlite:///{root / 'md.db'}", artifact_root=root / "artifacts", parallelism=2)
    run = runner.run(sw.Pipeline("serving-models", [gen, stats, schema, transform, *trainers]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    return {name: Path(run.output(f"Trainer-{name}", "model").uri) for name in specs}


def publish(bundle: Path, serving_dir: Path, model_name: str, version: int) -> Path:
    """Copy a bundle into ``{serving_dir}/{model_name}/{version}/`` as the Pusher does: staging, then rename."""
    model_folder = serving_dir / model_name
    model_folder.mkdir(parents=True, exist_ok=True)
    staging = model_folder / f".staging-{version}-test"
    shutil.copytree(bundle, staging)
    target = model_folder / str(version)
    os.rename(staging, target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`sluiceway serve` in a subprocess on a free port of 127.0.0.1; stopped (SIGTERM) on exit."""

    def __init__(self, model_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
        environment["PYTHONPATH"] = SRC
        environment.update(env or {})
        self.process = subprocess.Popen(
            [SLUICEWAY, "serve", "--model-dir", str(model_dir), "--port", str(self.port), *args],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.output = ""

    def wait_ready(self, timeout: float = 60, path: str = "/v2/health/live") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited {self.process.returncode}: {self.stop()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet: poll again
            time.sleep(0.05)
        raise AssertionError(f"the server was not ready within {timeout} s: {self.stop()}")

    def stop(self) -> str:
        """Stop gracefully (SIGTERM) and return what it printed."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            out, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        self.output = out + err
        return self.output

    def __enter__(self) -> ServerProcess:
        self.wait_ready()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
