"""The `sluiceway` command, run as a user runs it: a real subprocess against a real store."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SAMPLE, run_cli  # noqa: E402
from cli_envs import environment_without_settings  # noqa: E402

pytestmark = pytest.mark.integration


def test_run_then_inspect_runs_artifacts_and_lineage(cli_env: dict[str, str]) -> None:
    result = run_cli(["run", str(SAMPLE), "--run-name", "first", "--parallelism", "2"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "COMPLETE first" in result.stdout and "[5/5]" in result.stdout

    runs = json.loads(run_cli(["runs", "list", "--json"], cli_env).stdout)
    assert [r["name"] for r in runs] == ["first"] and runs[0]["state"] == "COMPLETE"
    shown = json.loads(run_cli(["runs", "show", "first", "--json"], cli_env).stdout)
    assert set(shown["executions"]) == {"produce", "nap_a", "nap_b", "join", "fail_if_told"}
    log_uri = shown["executions"]["produce"]["log_uri"]
    assert "produced 10 rows" in Path(log_uri).read_text()
    table = run_cli(["runs", "show", "first"], cli_env)
    assert table.returncode == 0 and "produce" in table.stdout and "COMPLETE" in table.stdout

    models = json.loads(run_cli(["artifacts", "list", "--type", "Model", "--json"], cli_env).stdout)
    assert sorted(m["producer"] for m in models) == ["nap_a", "nap_b"]
    examples_id = json.loads(run_cli(["artifacts", "list", "--type", "Examples", "--json"], cli_env).stdout)[0]["id"]
    artifact = json.loads(run_cli(["artifacts", "show", str(examples_id), "--json"], cli_env).stdout)
    assert artifact["files"] == ["Split-train/rows.txt"] and artifact["properties"]["row_counts"] == {"train": 10}

    lineage = json.loads(run_cli(["lineage", str(models[0]["id"]), "--json"], cli_env).stdout)
    assert [n["component_id"] for n in lineage["upstream"]] == [models[0]["producer"], "produce"]
    assert {n["component_id"] for n in lineage["downstream"]} >= {"join"}
    text = run_cli(["lineage", str(examples_id)], cli_env)
    assert "produced by" in text.stdout and "consumed by" in text.stdout and "nap_a" in text.stdout


def test_second_run_is_cached_and_no_cache_reruns(cli_env: dict[str, str]) -> None:
    assert run_cli(["run", str(SAMPLE)], cli_env).returncode == 0
    cached = run_cli(["run", str(SAMPLE), "--json"], cli_env)
    states = {k: v["state"] for k, v in json.loads(cached.stdout)["executions"].items()}
    assert set(states.values()) == {"CACHED"}
    fresh = run_cli(["run", str(SAMPLE), "--no-cache", "--json"], cli_env)
    assert {v["state"] for v in json.loads(fresh.stdout)["executions"].values()} == {"COMPLETE"}


def test_failed_run_exits_1_and_points_to_runs_show(cli_env: dict[str, str]) -> None:
    result = run_cli(["run", str(SAMPLE), "--run-name", "bad"], {**cli_env, "SLUICEWAY_TEST_FAIL": "1"})
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "told to fail" in result.stdout
    assert "sluiceway runs show bad" in result.stderr
    resumed = run_cli(["run", str(SAMPLE), "--resume", "bad"], cli_env)
    assert resumed.returncode == 0 and "resuming (4 already done)" in resumed.stdout


def test_definition_errors_exit_2_with_the_message(cli_env: dict[str, str], tmp_path: Path) -> None:
    missing = run_cli(["run", str(tmp_path / "nope.py")], cli_env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    broken = tmp_path / "broken.py"
    broken.write_text(
        "import sluiceway as sw\n"
        "@sw.component\ndef a(x: sw.Output[sw.Examples]) -> None: ...\n"
        "@sw.component\ndef b(m: sw.Input[sw.Model]) -> None: ...\n"
        "g = a()\npipeline = sw.Pipeline('p', [g, b(m=g.x)])\n"
    )
    result = run_cli(["run", str(broken)], cli_env)
    assert result.returncode == 2
    assert "input 'm' expects Model" in result.stderr and "produces Examples" in result.stderr
    no_store = run_cli(["runs", "show", "nope"], cli_env)  # a bad argument, in a folder where nothing ran
    assert no_store.returncode == 2 and "no metadata store" in no_store.stderr.lower()
    bad_store = run_cli(["--store", "postgresql://u:secret@127.0.0.1:1/x", "runs", "list"], cli_env)
    assert (
        bad_store.returncode == 2
        and "secret" not in bad_store.stderr
        and "Cannot open the metadata store" in bad_store.stderr
    )


def test_exec_runs_one_component_of_a_run(cli_env: dict[str, str]) -> None:
    premature = run_cli(["exec", "--pipeline", str(SAMPLE), "--component", "nap_a", "--run", "orch"], cli_env)
    assert premature.returncode == 1 and "has no completed execution in run 'orch'" in premature.stderr
    for component in ["produce", "nap_a", "nap_b", "join", "fail_if_told"]:
        result = run_cli(["exec", "--pipeline", str(SAMPLE), "--component", component, "--run", "orch"], cli_env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("COMPLETE " + component)
    shown = json.loads(run_cli(["runs", "show", "orch", "--json"], cli_env).stdout)
    assert shown["state"] == "COMPLETE" and not shown["not_run"]
    failing = run_cli(
        ["exec", "--pipeline", str(SAMPLE), "--component", "fail_if_told", "--run", "orch2"],
        {**cli_env, "SLUICEWAY_TEST_FAIL": "1"},
    )
    assert failing.returncode == 1


def test_module_attr_targets_and_version(cli_env: dict[str, str]) -> None:
    # Keep these sources first on the path (a PYTHONPATH of only the pipeline's folder would run the installed copy).
    sources = environment_without_settings().get("PYTHONPATH", "")
    env = {**cli_env, "PYTHONPATH": os.pathsep.join(p for p in (str(SAMPLE.parent), sources) if p)}
    assert run_cli(["run", "sample_pipelines:create_pipeline"], env).returncode == 0
    version = run_cli(["--version"], cli_env)
    assert version.returncode == 0 and version.stdout.strip() == "sluiceway 0.1.0"
    quiet = run_cli(["-q", "run", str(SAMPLE)], cli_env)
    assert quiet.returncode == 0 and "[1/5]" not in quiet.stdout and "COMPLETE" in quiet.stdout


def test_init_scaffolds_a_project_that_runs_and_tests_as_created(tmp_path: Path) -> None:
    import subprocess

    env = environment_without_settings()
    result = run_cli(["init", "churn"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "churn"
    assert {p.name for p in project.iterdir()} >= {
        "pipeline.py",
        "components.py",
        "tests",
        "README.md",
        "sluiceway.toml",
    }
    ran = run_cli(["run", "pipeline.py"], env, cwd=project)
    assert ran.returncode == 0 and "COMPLETE churn" in ran.stdout, ran.stderr
    assert (project / ".sluiceway" / "metadata.db").exists()
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0 and "1 passed" in tested.stdout, tested.stdout + tested.stderr
    again = run_cli(["init", "churn"], env, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_editing_a_components_code_invalidates_its_cache(cli_env: dict[str, str], tmp_path: Path) -> None:
    source = (
        "import sluiceway as sw\n"
        "@sw.component\n"
        "def make(out: sw.Output[sw.Examples]) -> None:\n"
        "    (out.path / 'v.txt').write_text('{body}')\n"
        "@sw.component\n"
        "def read(inp: sw.Input[sw.Examples], out: sw.Output[sw.Model]) -> None:\n"
        "    (out.path / 'copy.txt').write_text((inp.path / 'v.txt').read_text())\n"
        "m = make()\n"
        "pipeline = sw.Pipeline('edit', [m, read(inp=m.out)])\n"
    )
    file = tmp_path / "edit.py"

    def states() -> dict[str, str]:
        result = run_cli(["run", str(file), "--json"], cli_env)
        return {k: v["state"] for k, v in json.loads(result.stdout)["executions"].items()}

    file.write_text(source.format(body="one"))
    assert states() == {"make": "COMPLETE", "read": "COMPLETE"}
    assert states() == {"make": "CACHED", "read": "CACHED"}
    file.write_text(source.format(body="two"))  # only make's code changes
    assert states() == {"make": "COMPLETE", "read": "COMPLETE"}  # read reruns: its input's content changed
    file.write_text(source.format(body="two") + "# a comment outside the components\n")
    assert states() == {"make": "CACHED", "read": "CACHED"}
