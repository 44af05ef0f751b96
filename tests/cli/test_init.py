"""`sluiceway init`: the scaffold writes what the standard components read, so they plug in as they are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sluiceway.artifacts import ExampleStatistics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from cli_envs import environment_without_settings  # noqa: E402
from clitools import run_cli  # noqa: E402

pytestmark = pytest.mark.integration


def test_standard_components_added_to_the_scaffold_run_for_real(tmp_path: Path) -> None:
    env = environment_without_settings()
    assert run_cli(["init", "shop"], env, cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    pipeline = project / "pipeline.py"
    source = pipeline.read_text()
    # What a user does next: add standard components beside the custom ones.
    source = source.replace(
        'pipeline = sw.Pipeline("shop", [examples, summary])',
        "from sluiceway.components import ExampleValidator, SchemaGen, StatisticsGen\n"
        "statistics = StatisticsGen(examples=examples.examples)\n"
        "schema = SchemaGen(statistics=summary.statistics)\n"
        "check = ExampleValidator(statistics=statistics.statistics, schema=schema.schema)\n"
        'pipeline = sw.Pipeline("shop", [examples, summary, statistics, schema, check])',
    )
    assert "StatisticsGen(" in source
    pipeline.write_text(source)
    ran = run_cli(["run", "pipeline.py", "--json"], env, cwd=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    executions = json.loads(ran.stdout)["executions"]
    assert {k: v["state"] for k, v in executions.items()} == {
        "make_examples": "COMPLETE",
        "summarize": "COMPLETE",
        "StatisticsGen": "COMPLETE",
        "SchemaGen": "COMPLETE",
        "ExampleValidator": "COMPLETE",
    }
    anomalies = executions["ExampleValidator"]["outputs"]["anomalies"]["properties"]
    assert anomalies["anomaly_count"] == 0  # the schema inferred from summarize fits StatisticsGen's statistics
    # Both statistics outputs are the same document: summarize uses the real statistics code.
    summary_uri = Path(executions["summarize"]["outputs"]["statistics"]["uri"])
    stats_uri = Path(executions["StatisticsGen"]["outputs"]["statistics"]["uri"])
    summary_json = json.loads((summary_uri / ExampleStatistics.FILENAME).read_text())
    stats_json = json.loads((stats_uri / ExampleStatistics.FILENAME).read_text())
    assert [d["name"] for d in summary_json["datasets"]] == ["train", "eval"]
    assert summary_json["datasets"] == stats_json["datasets"]
