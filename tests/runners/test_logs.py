"""Per-execution log capture leaves the user's logging and streams as the user set them (issue 6.11)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import sluiceway as sw

from sample_pipelines import create_pipeline, produce


class _Collect(logging.Handler):
    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def user_handler() -> object:
    """A handler the 'user' put on the root logger, removed afterwards (the root level restored too)."""
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _global_logging_state() -> tuple[object, ...]:
    root = logging.getLogger()
    return (root.level, list(root.handlers), [list(h.filters) for h in root.handlers], sys.stdout, sys.stderr)


def test_a_run_leaves_root_level_handlers_and_streams_exactly_as_they_were(runner: sw.LocalRunner,
                                                                          user_handler: _Collect) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    before = _global_logging_state()
    run = runner.run(create_pipeline())
    assert run.succeeded
    assert _global_logging_state() == before
    assert sys.stdout is before[3] and sys.stderr is before[4]
    logging.getLogger("user.app").warning("after the run")
    assert user_handler.lines[-1] == "WARNING after the run"


def test_component_output_reaches_its_file_and_the_user_sees_only_what_their_level_allows(
    runner: sw.LocalRunner, user_handler: _Collect
) -> None:
    logging.getLogger().setLevel(logging.WARNING)

    @sw.component
    def chatty(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        logging.getLogger("user.code").info("info from the component")
        logging.getLogger("user.code").warning("warning from the component")
        print("print from the component")

    gen = produce()
    run = runner.run(sw.Pipeline("logs", [gen, chatty(examples=gen.examples)]))
    text = Path(run["chatty"].log_uri).read_text()
    assert "info from the component" in text and "warning from the component" in text
    assert "print from the component" in text
    # The user's WARNING-level configuration: the warning reaches their handler, the INFO record does not.
    assert "WARNING warning from the component" in user_handler.lines
    assert not any("info from the component" in line for line in user_handler.lines)


def test_a_user_at_info_level_sees_component_info_records_too(runner: sw.LocalRunner, user_handler: _Collect) -> None:
    logging.getLogger().setLevel(logging.INFO)

    @sw.component
    def chatty(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        logging.getLogger("user.code").info("fitting with 3 trees")

    gen = produce()
    run = runner.run(sw.Pipeline("logs_info", [gen, chatty(examples=gen.examples)]))
    assert "fitting with 3 trees" in Path(run["chatty"].log_uri).read_text()
    assert "INFO fitting with 3 trees" in user_handler.lines
    assert logging.getLogger().level == logging.INFO


def test_other_threads_keep_their_prints_and_log_lines_during_a_run(
    runner: sw.LocalRunner, user_handler: _Collect, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    component_running, user_done = threading.Event(), threading.Event()

    @sw.component
    def waits(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        component_running.set()
        assert user_done.wait(timeout=30), "the user thread never logged"
        print("component print")

    def user_thread() -> None:
        assert component_running.wait(timeout=30)
        print("user print during the run")
        logging.getLogger("user.app").warning("user warning during the run")
        logging.getLogger("user.app").info("user info during the run")
        user_done.set()

    helper = threading.Thread(target=user_thread)
    helper.start()
    gen = produce()
    run = runner.run(sw.Pipeline("threads", [gen, waits(examples=gen.examples)]))
    helper.join(timeout=30)
    assert run.succeeded
    text = Path(run["waits"].log_uri).read_text()
    assert "component print" in text
    assert "user print" not in text and "user warning" not in text
    assert "user print during the run" in capsys.readouterr().out
    assert "WARNING user warning during the run" in user_handler.lines
    assert not any("user info" in line for line in user_handler.lines)  # the user's WARNING level still holds


def test_basic_config_after_a_run_still_configures_logging(tmp_path: Path) -> None:
    """The reported bug, in a fresh interpreter: a handler left on the root made basicConfig a no-op."""
    script = textwrap.dedent(
        f"""
        import logging, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import sluiceway as sw
        from sample_pipelines import create_pipeline

        out, err = sys.stdout, sys.stderr
        run = sw.LocalRunner(store="sqlite:///{tmp_path / 'md.db'}", artifact_root={str(tmp_path / 'a')!r}).run(
            create_pipeline())
        assert run.succeeded, run.state
        assert sys.stdout is out and sys.stderr is err, "streams replaced"
        assert logging.getLogger().handlers == [], logging.getLogger().handlers
        assert logging.getLogger().level == logging.WARNING
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="USER %(message)s")
        logging.getLogger("app").info("configured after the run")
        print("plain print after the run")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "USER configured after the run" in result.stdout
    assert "plain print after the run" in result.stdout
    assert "produced 10 rows" not in result.stdout  # the component's print went to its log file


def test_capture_restores_a_stream_replaced_before_it_and_routes_only_its_own_thread(tmp_path: Path) -> None:
    from sluiceway.runners import logs

    replacement = io.StringIO()
    saved = sys.stdout
    sys.stdout = replacement
    try:
        with logs.capture(tmp_path / "x.log"):
            print("inside")
            seen_elsewhere: list[object] = []
            other = threading.Thread(target=lambda: (seen_elsewhere.append(sys.stdout), print("from another thread")))
            other.start()
            other.join(timeout=30)
        assert sys.stdout is replacement
    finally:
        sys.stdout = saved
    assert (tmp_path / "x.log").read_text() == "inside\n"
    assert replacement.getvalue() == "from another thread\n"


def test_a_handler_that_looks_up_stderr_when_it_writes_still_reaches_the_console(
    runner: sw.LocalRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    """Like the CLI's RichHandler: the component's warning reaches the user's console, and its file once."""
    from rich.console import Console
    from rich.logging import RichHandler

    root = logging.getLogger()
    handler = RichHandler(console=Console(stderr=True, width=200), show_time=False, show_path=False)
    root.addHandler(handler)
    try:
        @sw.component
        def warns(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
            logging.getLogger("user.code").warning("disk almost full")

        gen = produce()
        run = runner.run(sw.Pipeline("rich", [gen, warns(examples=gen.examples)]))
    finally:
        root.removeHandler(handler)
    assert "disk almost full" in capsys.readouterr().err
    assert Path(run["warns"].log_uri).read_text().count("disk almost full") == 1


def test_with_no_logging_configured_component_warnings_still_reach_stderr(tmp_path: Path) -> None:
    """Python prints warnings to stderr when nothing is configured; a run must not take that away."""
    script = textwrap.dedent(
        f"""
        import logging, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import sluiceway as sw
        from sample_pipelines import produce

        @sw.component
        def warns(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
            logging.getLogger("user.code").warning("disk almost full")
            logging.getLogger("user.code").info("only in the log file")

        gen = produce()
        run = sw.LocalRunner(store="sqlite:///{tmp_path / 'md.db'}", artifact_root={str(tmp_path / 'a')!r}).run(
            sw.Pipeline("plain", [gen, warns(examples=gen.examples)]))
        assert run.succeeded, run.state
        print(run["warns"].log_uri)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "disk almost full" in result.stderr and "only in the log file" not in result.stderr
    log_text = Path(result.stdout.strip().splitlines()[-1]).read_text()
    assert log_text.count("disk almost full") == 1 and "only in the log file" in log_text
