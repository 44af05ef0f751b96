"""parallel_trials=N runs N trials at once in worker processes sharing the study; Ctrl-C fails the running
trials with a clear reason, and the tuning resumes."""

from __future__ import annotations

import os
import signal
import subprocess
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
from sluiceway.tuner.storage import storage_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SLUICEWAY, run_cli  # noqa: E402

WAIT_S = 300  # how long a trial waits for its partner before it fails the test (a loaded 2-core CI is slow)


def meet_then_fit(trial, ctx):
    """Trials 0 and 1 each wait until the other one has started too (polling the shared study: with trials
    run one after another that never happens, and the trial fails), recording where and when they ran."""
    c = trial.suggest_float("C", 1e-3, 1e3, log=True)
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("start", time.time())
    if trial.number < 2:
        deadline = time.monotonic() + WAIT_S
        # a trial is RUNNING in the storage before its tuner_fn starts: wait for the other one's recorded start
        while sum("start" in t.user_attrs for t in trial.study.get_trials(deepcopy=False)) < 2:
            if time.monotonic() > deadline:
                raise RuntimeError("no other trial ran at the same time as this one")
            time.sleep(0.01)  # polling the study's state, not a sleep as synchronisation
    model = LogisticRegression(C=c, max_iter=2000).fit(ctx.train.X, ctx.train.y)
    trial.set_user_attr("end", time.time())
    return log_loss(ctx.eval.y, model.predict_proba(ctx.eval.X), labels=model.classes_)


def _study(runner: sw.LocalRunner) -> optuna.Study:
    (summary,) = optuna.get_all_study_summaries(storage_url(runner.settings.store))
    return optuna.load_study(study_name=summary.study_name, storage=storage_url(runner.settings.store))


def test_two_trials_run_at_once_in_two_worker_processes_and_the_study_resumes(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(meet_then_fit, num_trials=2, parallel_trials=2, direction="minimize"))
    assert run.succeeded, run["Tuner"].error
    first, second = sorted(_study(runner).trials, key=lambda t: t.number)
    assert first.state.name == second.state.name == "COMPLETE"
    pids = {first.user_attrs["pid"], second.user_attrs["pid"]}
    assert len(pids) == 2 and os.getpid() not in pids  # two processes, neither the runner's
    assert max(first.user_attrs["start"], second.user_attrs["start"]) < min(
        first.user_attrs["end"], second.user_attrs["end"]
    )  # their run times overlap
    log = Path(run["Tuner"].log_uri).read_text()
    assert "Running up to 2 trials at once in worker processes" in log
    assert log.count(" finished in ") == 2  # the workers' log records reach the execution's log

    more = runner.run(penguin_tuning(meet_then_fit, num_trials=4, parallel_trials=2, direction="minimize"))
    assert more.succeeded, more["Tuner"].error
    document = load_hyperparameters(more.output("Tuner", "hyperparameters"), full=True)
    assert [(t["number"], t["state"]) for t in document["trials"]] == [(n, "COMPLETE") for n in range(4)]
    assert [t["params"] for t in document["trials"][:2]] == [first.params, second.params]  # kept, not rerun
    assert Path(more["Tuner"].log_uri).read_text().count(" finished in ") == 2  # only the missing trials ran
    params = [t["params"]["C"] for t in document["trials"]]
    assert len(set(params)) == len(params)  # the workers draw different parameters


PIPELINE = """
import os
import sys
import time

sys.path.insert(0, {folder!r})
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from tuner_fixtures import penguin_tuning


def tuner_fn(trial, ctx):
    c = trial.suggest_float("C", 1e-3, 1e3, log=True)
    markers = os.environ.get("TUNER_TEST_MARKERS")
    if markers and trial.number < 2:  # the first two trials say they started, then wait for Ctrl-C
        open(os.path.join(markers, f"started-{{trial.number}}"), "w").close()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.05)  # a long trial, waiting to be interrupted
    model = LogisticRegression(C=c, max_iter=2000).fit(ctx.train.X, ctx.train.y)
    return log_loss(ctx.eval.y, model.predict_proba(ctx.eval.X), labels=model.classes_)


pipeline = penguin_tuning(tuner_fn, name="interrupted-tuning", num_trials=3, parallel_trials=2, direction="minimize")
"""


@pytest.mark.integration
def test_ctrl_c_fails_the_running_trials_with_a_clear_reason_and_the_tuning_resumes(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    pipeline_file = tmp_path / "tuning_pipeline.py"
    pipeline_file.write_text(textwrap.dedent(PIPELINE.format(folder=str(Path(__file__).parent))))
    markers = tmp_path / "markers"
    markers.mkdir()
    # its own process group, as a terminal's foreground job: Ctrl-C sends SIGINT to every process in it
    process = subprocess.Popen(
        [SLUICEWAY, "run", str(pipeline_file), "--run-name", "tune"],
        env={**cli_env, "TUNER_TEST_MARKERS": str(markers)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WAIT_S
        while len(list(markers.iterdir())) < 2:  # polling for both workers to be inside a trial
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the two trials never ran at once"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert process.returncode != 0

    storage = storage_url(cli_env["SLUICEWAY_STORE"])
    (summary,) = optuna.get_all_study_summaries(storage)
    deadline = time.monotonic() + WAIT_S
    while True:  # the workers record their trials FAIL on their own, maybe after the runner has exited
        trials = optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()
        if len(trials) == 2 and all(t.state.name == "FAIL" for t in trials):
            break
        assert time.monotonic() < deadline, [(t.number, t.state.name) for t in trials]
        time.sleep(0.05)
    for trial in trials:
        reason = trial.system_attrs["fail_reason"]
        assert f"interrupted by the user in trial {trial.number} (parameters {{'C': " in reason
        assert "The trial is recorded FAIL; the finished trials are kept" in reason

    resumed = run_cli(["run", str(pipeline_file), "--resume", "tune"], cli_env, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (artifact,) = MetadataStore(cli_env["SLUICEWAY_STORE"]).list_artifacts(type_name="HyperParameters")
    document = load_hyperparameters(artifact.uri, full=True)
    assert [t["state"] for t in document["trials"]] == ["FAIL", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert "interrupted by the user in trial 1 " in document["trials"][1]["error"]
    assert all(t["error"] is None for t in document["trials"][2:])
