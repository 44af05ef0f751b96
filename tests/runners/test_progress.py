"""The Rich progress display as a RunHooks implementation, from the library as from the CLI (issue 6.15)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

import sluiceway as sw
from sluiceway.runners.hooks import RunHooks, progress_hooks
from sluiceway.runners.progress import RichProgress

from sample_pipelines import create_pipeline, produce


def _recording_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, force_terminal=False, color_system=None), buffer


def test_library_runs_show_the_progress_lines_the_cli_shows(tmp_path: Path) -> None:
    console, buffer = _recording_console()
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a",
                            hooks=[RichProgress(console)])
    run = runner.run(create_pipeline(), run_name="shown")
    out = buffer.getvalue()
    assert run.succeeded
    assert "Run shown: sample, 5 components" in out
    assert "[5/5]" in out and "COMPLETE shown (5 complete)" in out
    for component_id in ("produce", "nap_a", "nap_b", "join", "fail_if_told"):
        assert f"COMPLETE {component_id} (" in out

    rerun = runner.run(create_pipeline(), run_name="again")
    assert rerun.succeeded and "COMPLETE again (5 cached)" in buffer.getvalue()


def test_failure_text_is_escaped_and_shows_the_last_frames(tmp_path: Path) -> None:
    @sw.component
    def breaks(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        raise ValueError("value [red]boom[/red] in column [unknown]")

    console, buffer = _recording_console()
    gen = produce()
    run = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a",
                         hooks=[RichProgress(console)]).run(sw.Pipeline("fails", [gen, breaks(examples=gen.examples)]))
    out = buffer.getvalue()
    assert run.state == "FAILED"
    assert "ValueError: value [red]boom[/red] in column [unknown]" in out  # printed as written, not as markup
    assert "in breaks" in out  # the frame that raised
    assert "FAILED" in out.splitlines()[-1]


def test_failed_component_shows_its_log_path_when_the_runner_gives_it() -> None:
    console, buffer = _recording_console()
    progress = RichProgress(console)
    progress.on_component_end(run_name="r", component_id="train", state="FAILED", duration_s=0.1,
                              error="RuntimeError: no", log_uri="/logs/r/[train].log")
    assert "log: /logs/r/[train].log" in buffer.getvalue()


def test_quiet_progress_shows_only_failures_and_the_summary(tmp_path: Path) -> None:
    console, buffer = _recording_console()
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a",
                            hooks=[RichProgress(console, quiet=True)])
    runner.run(create_pipeline(), run_name="hushed")
    assert buffer.getvalue().splitlines() == ["COMPLETE hushed (5 complete)"]


def test_progress_hooks_is_the_entry_point_for_run_progress() -> None:
    mine = RunHooks()
    assert progress_hooks(False) == []
    assert progress_hooks(mine) == [mine]
    shown = progress_hooks(True)
    assert len(shown) == 1 and isinstance(shown[0], RichProgress)
    assert progress_hooks(None) == []  # not a notebook: scripts stay quiet unless asked
