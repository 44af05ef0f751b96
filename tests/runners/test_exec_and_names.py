"""`sluiceway exec` honours every dependency and gate the local runner honours; names and roots are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.metadata.store import MetadataStore

from clitools import SAMPLE, run_cli
from sample_pipelines import create_pipeline

pytestmark = pytest.mark.integration
GATED = f"{SAMPLE}:create_gated_pipeline"


def _exec(component: str, run: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return run_cli(["exec", "--pipeline", GATED, "--component", component, "--run", run], env)


def test_exec_refuses_a_task_whose_after_gate_never_ran(cli_env: dict[str, str]) -> None:
    assert _exec("produce", "r1", cli_env).returncode == 0
    refused = _exec("train", "r1", cli_env)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "'validate'" in refused.stderr and "no completed execution" in refused.stderr
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    assert [e.component_id for e in store.executions(store.get_run("r1").id)] == ["produce"]


def test_exec_refuses_a_task_behind_a_closed_gate_and_runs_it_once_the_gate_passes(cli_env: dict[str, str]) -> None:
    assert _exec("produce", "r2", cli_env).returncode == 0
    gate = _exec("validate", "r2", {**cli_env, "SLUICEWAY_TEST_FAIL": "1"})
    assert gate.returncode == 1
    refused = _exec("train", "r2", cli_env)
    assert refused.returncode == 1 and "'validate' (FAILED)" in refused.stderr, refused.stderr
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    assert store.list_artifacts(type_name="Model") == []
    assert _exec("validate", "r2", cli_env).returncode == 0
    trained = _exec("train", "r2", cli_env)
    assert trained.returncode == 0, trained.stderr
    assert store.get_run("r2").state == "COMPLETE" and len(store.list_artifacts(type_name="Model")) == 1


def test_the_local_runner_skips_the_same_task(runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    from sample_pipelines import create_gated_pipeline

    monkeypatch.setenv("SLUICEWAY_TEST_FAIL", "1")
    run = runner.run(create_gated_pipeline())
    assert run.state == "FAILED" and run.not_run == ["train"]
    with pytest.raises(sw.NotFoundError, match="'train' did not run"):
        run.output("train", "model")


@pytest.mark.parametrize("name", ["../../x", "..", ".hidden", "a/b", "", "x" * 201, "tab\there"])
def test_run_names_that_would_escape_or_hide_are_refused(name: str, tmp_path: Path) -> None:
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a")
    with pytest.raises(sw.DefinitionError, match="The 'run_name' must be 1 to 200 letters"):
        runner.run(create_pipeline(), run_name=name)
    assert runner.store.list_runs() == []


def test_cli_refuses_bad_run_names_and_writes_nothing_outside_the_root(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["run", str(SAMPLE), "--run-name", "../../escaped"], cli_env)
    assert result.returncode == 2 and "run_name" in result.stderr, result.stderr
    result = run_cli(["exec", "--pipeline", str(SAMPLE), "--component", "produce", "--run", "../escaped"], cli_env)
    assert result.returncode == 2 and "'--run'" in result.stderr, result.stderr
    assert not list(tmp_path.parent.rglob("escaped*"))
