"""The Run object: raise_for_status, outputs of components that failed or did not run, gates, progress."""

from __future__ import annotations

from pathlib import Path

import pytest

import sluiceway as sw

from sample_pipelines import create_gated_pipeline, create_pipeline


def test_raise_for_status_names_component_run_log_and_last_frames(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICEWAY_TEST_FAIL", "1")
    run = runner.run(create_pipeline())
    with pytest.raises(sw.ComponentError) as caught:
        run.raise_for_status()
    message = str(caught.value)
    failed = run["fail_if_told"]
    assert f"'fail_if_told' failed in run {run.name!r}" in message
    assert f"Log: {failed.log_uri}" in message and Path(failed.log_uri).is_file()
    assert "RuntimeError: told to fail" in message and "sample_pipelines.py" in message
    assert message.count('  File "') <= 3  # the last frames, not the whole traceback
    with pytest.raises(sw.RunError, match="'fail_if_told' FAILED .* so it has no outputs: RuntimeError: told to fail"):
        run.output("fail_if_told", "blessing")
    with pytest.raises(sw.NotFoundError, match="has no component 'nope'"):
        run["nope"]


def test_raise_for_status_returns_a_complete_run(runner: sw.LocalRunner) -> None:
    run = runner.run(create_pipeline())
    assert run.raise_for_status() is run
    with pytest.raises(sw.NotFoundError, match=r"has no output 'nope' in run .*Its outputs: \['model'\]"):
        run.output("nap_a", "nope")


def test_a_closed_gates_message_points_at_the_published_report(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICEWAY_TEST_FAIL", "1")
    run = runner.run(create_gated_pipeline())
    gate = run["validate"]
    report = run.output("validate", "report")  # a closed gate publishes its outputs
    assert ".staging" not in gate.error and f"{report.uri}/report.json" in gate.error
    assert (Path(report.uri) / "report.json").is_file()


def test_progress_true_prints_the_cli_progress(runner: sw.LocalRunner, capsys: pytest.CaptureFixture[str]) -> None:
    runner.run(create_pipeline(), progress=True)
    out = capsys.readouterr().out
    assert "[5/5]" in out and "COMPLETE" in out and "nap_a" in out
    runner.run(create_pipeline())  # off by default outside notebooks
    assert capsys.readouterr().out == ""
