"""Choosing the Ray engine for a pipeline, a component or a CLI command, on the session's real cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.components import CsvExampleGen, StatisticsGen

sys.path.insert(0, str(Path(__file__).parents[1] / "runners"))
from clitools import SLUICEWAY, run_cli  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.ray]

PENGUIN = str(Path(__file__).parents[2] / "examples" / "penguin" / "pipeline.py")
DATA_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform")


def _fingerprints(doc: dict, components: tuple[str, ...]) -> dict[str, dict[str, str]]:
    executions = doc["executions"]
    return {c: {name: out["fingerprint"] for name, out in executions[c]["outputs"].items()} for c in components}


def test_penguin_pipeline_on_ray_gives_the_artifacts_of_a_local_run(
    ray_address: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`sluiceway run --engine ray` (a second driver, RAY_ADDRESS) and a local run, side by side: the data
    components' artifacts have the same content fingerprints, and the store records the engine."""
    local_env = {**cli_env, "SLUICEWAY_STORE": f"sqlite:///{tmp_path / 'local.db'}",
                 "SLUICEWAY_ARTIFACT_ROOT": str(tmp_path / "local-artifacts")}  # fmt: skip
    ray_env = {**cli_env, "RAY_ADDRESS": ray_address}
    local = subprocess.Popen([SLUICEWAY, "run", PENGUIN, "--json"], env=local_env, stdout=subprocess.PIPE, text=True)
    on_ray = run_cli(["run", PENGUIN, "--engine", "ray", "--json"], ray_env, timeout=300)
    local_out, _ = local.communicate(timeout=300)
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    assert local.returncode == 0, local_out
    ray_doc, local_doc = json.loads(on_ray.stdout), json.loads(local_out)
    assert ray_doc["state"] == local_doc["state"] == "COMPLETE"
    assert _fingerprints(ray_doc, DATA_COMPONENTS) == _fingerprints(local_doc, DATA_COMPONENTS)

    store = sw.MetadataStore(ray_env["SLUICEWAY_STORE"])
    assert store.get_run(ray_doc["run"]).properties["engine"] == "ray"
    for component in ("StatisticsGen", "Transform", "Evaluator"):  # their data work ran as Ray tasks
        log = Path(ray_doc["executions"][component]["log_uri"]).read_text()
        assert f"as Ray tasks on {ray_address}" in log, log
    # The Evaluator's metrics, summed per row group on the workers, equal the in-process ones (the two
    # trained models predict the same; the documents differ only in the model URIs they name).
    ray_eval, local_eval = (
        json.loads((Path(doc["executions"]["Evaluator"]["outputs"]["evaluation"]["uri"]) / sw.ModelEvaluation.FILENAME)
                   .read_text())
        for doc in (ray_doc, local_doc)
    )
    assert ray_eval["candidate"].pop("model_uri") != local_eval["candidate"].pop("model_uri")
    assert ray_eval["candidate"] == local_eval["candidate"] and ray_eval["blessed"] is True
    local_log = Path(local_doc["executions"]["StatisticsGen"]["log_uri"]).read_text()
    assert "Ray tasks" not in local_log


def _penguin_csv() -> str:
    from importlib.util import find_spec

    spec = find_spec("palmerpenguins")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv")


def test_pipeline_engine_with_a_component_that_stays_local(ray_address: str, tmp_path: Path) -> None:
    """Pipeline(engine="ray") applies to every component; Component(engine="local") keeps one in process;
    the runner's engine overrides the pipeline's; the outputs are the same everywhere."""
    gen = CsvExampleGen(input_pattern=_penguin_csv())
    on_ray = StatisticsGen(examples=gen.examples, id="stats_ray")
    kept_local = StatisticsGen(examples=gen.examples, id="stats_local", engine="local")
    pipeline = sw.Pipeline("engines", [gen, on_ray, kept_local], engine="ray")
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")
    run = runner.run(pipeline).raise_for_status()
    ray_stats, local_stats = run.output("stats_ray", "statistics"), run.output("stats_local", "statistics")
    assert ray_stats.fingerprint == local_stats.fingerprint
    assert "as Ray tasks" in Path(run["stats_ray"].log_uri or "").read_text()
    assert "as Ray tasks" not in Path(run["stats_local"].log_uri or "").read_text()
    assert runner.store.get_run(run.name).properties["engine"] == "ray"

    overridden = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts",
                                cache=False, engine="local").run(pipeline).raise_for_status()  # fmt: skip
    assert "as Ray tasks" not in Path(overridden["stats_ray"].log_uri or "").read_text()
    assert overridden.output("stats_ray", "statistics").fingerprint == ray_stats.fingerprint


def test_cli_stats_on_ray_prints_the_local_statistics(
    ray_address: str, flights_dir: Path, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "RAY_ADDRESS": ray_address}
    on_ray = run_cli(["stats", str(flights_dir), "--engine", "ray", "--json"], env, timeout=300)
    local = run_cli(["stats", str(flights_dir), "--json"], env, timeout=300)
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stdout == local.stdout and json.loads(on_ray.stdout)["datasets"][0]["num_examples"] == 336_776
