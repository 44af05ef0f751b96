"""An interrupted tuning resumes: finished trials are kept, the interrupted one is failed, the rest run."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from tuner_fixtures import penguin_tuning

import sluiceway as sw
from sluiceway.metadata.store import MetadataStore
from sluiceway.tuner import load_hyperparameters
from sluiceway.tuner.storage import POSTGRES_SCHEMA, storage_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli, start_run  # noqa: E402


def fails_at_trial_3_when_told(trial, ctx):
    c = trial.suggest_float("C", 1e-3, 1e3, log=True)
    if trial.number == 3 and os.environ.get("TUNER_TEST_FAIL_AT_3"):
        raise ValueError("the solver diverged")
    model = LogisticRegression(C=c, max_iter=2000).fit(ctx.train.X, ctx.train.y)
    return log_loss(ctx.eval.y, model.predict_proba(ctx.eval.X), labels=model.classes_)


def test_a_raising_tuner_fn_names_the_trial_and_a_rerun_keeps_the_finished_trials(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = penguin_tuning(fails_at_trial_3_when_told, num_trials=6, direction="minimize", seed=1)
    monkeypatch.setenv("TUNER_TEST_FAIL_AT_3", "1")
    failed = runner.run(pipeline)
    assert failed["Tuner"].state == "FAILED"
    error = failed["Tuner"].error
    assert "ComponentError" in error and "raised in trial 3" in error and "ValueError: the solver diverged" in error
    with pytest.raises(sw.errors.ComponentError, match="Tuner"):
        failed.raise_for_status()
    assert not list(Path(runner.settings.artifact_root).glob("**/hyperparameters.json"))  # nothing half-written

    monkeypatch.delenv("TUNER_TEST_FAIL_AT_3")
    rerun = runner.run(pipeline)
    assert rerun.succeeded, {k: v.error for k, v in rerun.executions.items()}
    document = load_hyperparameters(rerun.output("Tuner", "hyperparameters"), full=True)
    states = {t["number"]: t["state"] for t in document["trials"]}
    assert states == {
        0: "COMPLETE",
        1: "COMPLETE",
        2: "COMPLETE",
        3: "FAIL",
        4: "COMPLETE",
        5: "COMPLETE",
        6: "COMPLETE",
    }
    log = Path(rerun["Tuner"].log_uri).read_text()
    assert log.count(" finished in ") == 3  # only the missing trials ran
    params = [t["params"]["C"] for t in document["trials"] if t["state"] == "COMPLETE"]
    assert len(set(params)) == len(params)  # the resumed sampler does not replay the first trials


PIPELINE = """
import os
import signal
import sys
import threading

sys.path.insert(0, {folder!r})
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from tuner_fixtures import penguin_tuning


def tuner_fn(trial, ctx):
    c = trial.suggest_float("C", 1e-3, 1e3, log=True)
    marker = os.environ.get("TUNER_TEST_STOP_MARKER")
    if marker and trial.number == 3:  # stop in the middle of trial 3, so the test can SIGKILL the run here
        open(marker, "w").close()
        # this thread stops first (then the process): a process-directed SIGSTOP may be taken by another
        # thread while this one runs on into the trial (see sluiceway.runners.execute.fault_point)
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)
    model = LogisticRegression(C=c, max_iter=2000).fit(ctx.train.X, ctx.train.y)
    return log_loss(ctx.eval.y, model.predict_proba(ctx.eval.X), labels=model.classes_)


pipeline = penguin_tuning(tuner_fn, name="killed-tuning", num_trials=6, direction="minimize", seed=5)
"""


@pytest.mark.integration
def test_a_killed_sluiceway_run_resumes_the_study_with_its_finished_trials(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    pipeline_file = tmp_path / "tuning_pipeline.py"
    pipeline_file.write_text(textwrap.dedent(PIPELINE.format(folder=str(Path(__file__).parent))))
    marker = tmp_path / "stopped"
    process = start_run(
        ["run", str(pipeline_file), "--run-name", "tune"], {**cli_env, "TUNER_TEST_STOP_MARKER": str(marker)}
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # polling for the process to reach trial 3, not a sleep as synchronisation
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run never reached trial 3"
            time.sleep(0.02)
        os.waitpid(process.pid, os.WUNTRACED)  # stopped inside trial 3
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
        process.communicate()

    storage = storage_url(cli_env["SLUICEWAY_STORE"])
    (summary,) = optuna.get_all_study_summaries(storage)
    before = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
    assert [(t.number, t.state.name) for t in before] == [
        (0, "COMPLETE"),
        (1, "COMPLETE"),
        (2, "COMPLETE"),
        (3, "RUNNING"),
    ]

    resumed = run_cli(["run", str(pipeline_file), "--resume", "tune"], cli_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    (artifact,) = store.list_artifacts(type_name="HyperParameters")
    document = load_hyperparameters(artifact.uri, full=True)
    trials = {t["number"]: t for t in document["trials"]}
    assert [trials[n]["state"] for n in sorted(trials)] == ["COMPLETE"] * 3 + ["FAIL"] + ["COMPLETE"] * 3
    for old in before[:3]:  # the finished trials are the very ones the killed process ran
        assert trials[old.number]["params"] == old.params
        assert trials[old.number]["value"] == pytest.approx(old.value)
    executions = [e for e in store.executions(store.get_run("tune").id) if e.component_id == "Tuner"]
    log = Path(executions[-1].log_uri).read_text().split("=== Tuner execution")[-1]  # the resumed execution's part
    assert "Trial(s) [3] of study" in log and "left running by a process that is gone" in log
    assert log.count(" finished in ") == 3
    params = [t["params"]["C"] for t in trials.values() if t["state"] == "COMPLETE"]
    assert len(set(params)) == len(params)  # the resumed sampler does not replay the killed process's trials


def test_the_study_shares_the_stores_database_without_touching_its_tables(store_url: str, tmp_path: Path) -> None:
    runner = sw.LocalRunner(store=store_url, artifact_root=tmp_path / "artifacts")
    run = runner.run(penguin_tuning(fails_at_trial_3_when_told, num_trials=3, direction="minimize"))
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    assert len(load_hyperparameters(run.output("Tuner", "hyperparameters"), full=True)["trials"]) == 3
    MetadataStore(store_url)  # the store still opens: no foreign table in its namespace
    if store_url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(storage_url(store_url))
        with engine.connect() as conn:
            schemas = set(
                conn.execute(text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'trials'"))
                .scalars()
                .all()
            )
        engine.dispose()
        assert schemas == {POSTGRES_SCHEMA}
    else:
        assert Path(storage_url(store_url).removeprefix("sqlite:///")).is_file()


def test_a_trial_raising_in_a_worker_thread_stops_the_search_and_names_the_trial(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNER_TEST_FAIL_AT_3", "1")
    run = runner.run(penguin_tuning(fails_at_trial_3_when_told, num_trials=8, parallel_trials=2, direction="minimize"))
    assert run["Tuner"].state == "FAILED"
    assert "raised in trial 3" in run["Tuner"].error and "ValueError: the solver diverged" in run["Tuner"].error
    (summary,) = optuna.get_all_study_summaries(storage_url(runner.settings.store))
    trials = optuna.load_study(study_name=summary.study_name, storage=storage_url(runner.settings.store)).trials
    assert {t.number: t.state.name for t in trials}[3] == "FAIL"
    assert "RUNNING" not in {t.state.name for t in trials}  # the other thread finished its trial, then stopped
    assert len(trials) < 8
