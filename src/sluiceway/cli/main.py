"""The ``sluiceway`` command: its entry point, its command list and its one error handler.

Exit codes (the same for every command):
  0   success
  1   anomalies found, or a run or component failed
  2   unusable input: a bad argument, pipeline, setting, data file or metadata store
  70  an internal error (a bug): the traceback is shown with -vv
  130 interrupted (Ctrl-C)

Commands raise typed errors (``sluiceway.errors``); ``main()`` alone turns an exception into a message and an
exit code. This module imports only the standard library at import time so that a Ctrl-C while the rest
loads is still reported as an interruption rather than as a traceback.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

# Every command module, registered explicitly in this order. Each exposes ``register(app)``; importing one
# has no other effect. A new command module is one line here.
COMMAND_MODULES = (
    "sluiceway.cli.running",  # run, exec
    "sluiceway.cli.records",  # runs, artifacts, lineage
    "sluiceway.cli.data",  # stats, schema, validate
    "sluiceway.cli.scaffold",  # init
    "sluiceway.cli.store",  # store check, store init
    "sluiceway.cli.gc",  # gc
    "sluiceway.cli.export",  # export airflow, export kubeflow, export plan
    "sluiceway.cli.serve",  # serve
    "sluiceway.cli.monitor",  # monitor
)

EXIT_FAILED = 1
EXIT_UNUSABLE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

# Global options may be given after the subcommand too (`sluiceway run p.py -q --store URL`): they are moved
# in front of it before parsing. Command modules must not reuse these names.
_GLOBAL_WITH_VALUE = ("--store", "--artifact-root")
_GLOBAL_FLAGS = re.compile(r"-q|--quiet|-v+|--verbose|-V|--version")


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """``args`` with every global option (and its value) moved to the front, order kept; ``--`` ends the search."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg in _GLOBAL_WITH_VALUE and index + 1 < len(args):
            hoisted.extend(args[index : index + 2])
            index += 2
            continue
        if _GLOBAL_FLAGS.fullmatch(arg) or arg.split("=", 1)[0] in _GLOBAL_WITH_VALUE:
            hoisted.append(arg)
        else:
            rest.append(arg)
        index += 1
    return hoisted + rest


def _verbosity(args: Sequence[str]) -> int:
    """-1 quiet, else the number of -v: known before parsing, so that even a usage error honours -vv."""
    count = 0
    for arg in args:
        if arg == "--":
            break
        if arg in ("-q", "--quiet"):
            return -1
        if arg == "--verbose":
            count += 1
        elif re.fullmatch(r"-v+", arg):
            count += len(arg) - 1
    return count


def build_app() -> typer.Typer:
    """The Typer application with every command of ``COMMAND_MODULES`` registered."""
    import typer

    from sluiceway.cli import common

    app = typer.Typer(
        name="sluiceway",
        help="Production ML pipelines: run pipelines, inspect runs, artifacts and lineage, profile and validate data.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: no "<bool>" after flags, and help text is never markup
    )

    def show_version(value: bool) -> None:
        if value:
            from sluiceway import __version__

            common.console.print(f"sluiceway {__version__}")
            raise typer.Exit()

    @app.callback()
    def global_options(
        store: str | None = typer.Option(
            None,
            "--store",
            metavar="URL",
            help="Metadata store URL (sqlite:///… or postgresql://…). Env: SLUICEWAY_STORE.",
        ),
        artifact_root: str | None = typer.Option(
            None, "--artifact-root", metavar="DIR", help="Folder for artifacts. Env: SLUICEWAY_ARTIFACT_ROOT."
        ),
        verbose: int = typer.Option(
            0,
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="More output: -v streams component output, -vv debug and tracebacks.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors and the final result."),
        version: bool = typer.Option(
            False, "--version", "-V", callback=show_version, is_eager=True, help="Show the version and exit."
        ),
    ) -> None:
        """Global options; they may also follow the subcommand."""
        common.state.store = store
        common.state.artifact_root = artifact_root
        common.state.verbosity = -1 if quiet else verbose
        _configure_logging(common.state.verbosity)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def _configure_logging(verbosity: int) -> None:
    # The CLI is the application: configuring the root logger is its job (library code never does).
    import logging

    from rich.logging import RichHandler

    from sluiceway.cli.common import err_console

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    root.handlers = [
        RichHandler(console=err_console, level=level, show_path=False, rich_tracebacks=False, markup=False)
    ]
    root.setLevel(min(level, logging.INFO))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line and exit with its code: the one place where exceptions become messages."""
    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    verbosity = _verbosity(args)  # now: parsing consumes the list
    try:
        code = _invoke(list(args))
    except KeyboardInterrupt:
        code = _report_interrupt()
    except BaseException as exc:  # noqa: BLE001 - every exception ends here, as a message and an exit code
        code = _report(exc, verbosity=verbosity)
    _exit(code)


def _invoke(args: list[str]) -> int:
    import typer

    command = typer.main.get_command(build_app())
    try:
        with command.make_context("sluiceway", args) as context:
            command.invoke(context)
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:  # a prompt reached the end of its input
        _print_error("aborted.")
        return EXIT_FAILED
    except _usage_error_type() as exc:  # usage errors: bad option, missing argument, unknown command
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _print_error(getattr(exc, "format_message", exc.__str__)())
        return int(getattr(exc, "exit_code", EXIT_UNUSABLE))
    return 0


def _usage_error_type() -> type[Exception]:
    """The base class of Typer's usage errors: ``typer.TyperException`` in Typer releases that ship their own
    copy of Click, ``click.ClickException`` in older ones (the declared minimum, 0.15, is one)."""
    import typer

    found = getattr(typer, "TyperException", None)
    if found is None:
        from click.exceptions import ClickException

        found = ClickException
    return found


def exit_code_for(exc: BaseException) -> int:
    """The exit code of an exception that reached ``main()``."""
    from sluiceway.errors import (
        DataError,
        DefinitionError,
        GateClosed,
        MissingExtraError,
        NotFoundError,
        SluicewayError,
        StoreError,
    )

    if isinstance(exc, GateClosed):  # anomalies found
        return EXIT_FAILED
    if isinstance(exc, (DataError, DefinitionError, StoreError, NotFoundError, MissingExtraError)):
        return EXIT_UNUSABLE
    if isinstance(exc, SluicewayError):  # ComponentError, RunError: a run or component failed
        return EXIT_FAILED
    if isinstance(exc, OSError) or _is_database_error(exc):
        return EXIT_UNUSABLE
    return EXIT_INTERNAL


def _is_database_error(exc: BaseException) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.Error):
        return True
    # Only look at SQLAlchemy and Alembic when they are loaded: an error of their kind cannot exist otherwise.
    # (Alembic raises when the store's schema revision is unknown, e.g. written by a newer Sluiceway.)
    kinds = [
        getattr(sys.modules.get(module), name, None)
        for module, name in (
            ("sqlalchemy.exc", "SQLAlchemyError"),
            ("alembic.util.exc", "CommandError"),
            ("alembic.script.revision", "RevisionError"),
        )
    ]
    return any(isinstance(kind, type) and isinstance(exc, kind) for kind in kinds)


def _report(exc: BaseException, *, verbosity: int) -> int:
    from sluiceway.errors import SluicewayError
    from sluiceway.metadata.urls import redact_text

    if isinstance(exc, BrokenPipeError):  # the reader went away (`| head`): nothing more to say, to no one
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe until exit
        return EXIT_FAILED
    code = exit_code_for(exc)
    if verbosity >= 2:
        _print_traceback(exc)
    if isinstance(exc, SluicewayError):
        message = str(exc)
    elif isinstance(exc, OSError) and code == EXIT_UNUSABLE:
        where = f" {exc.filename}" if exc.filename else ""
        message = f"cannot use{where}: {exc.strerror or exc}. Check the path and its permissions."
    elif code == EXIT_UNUSABLE:  # a database error the store did not wrap
        driver_error = getattr(exc, "orig", None) or exc  # the driver's own words, without SQLAlchemy's SQL dump
        message = (
            f"the metadata store at {_store_for_message()} cannot be used: "
            f"{type(driver_error).__name__}: {driver_error}. "
            + (
                "It may have been written by a newer version of Sluiceway: use that version, or pass another --store."
                if "revision" in str(driver_error)
                else "If it is damaged, move it away (a new store is created on the next run) or pass another --store."
            )
        )
    else:
        message = f"internal error: {type(exc).__name__}: {exc}"
        if verbosity < 2:
            message += (
                "\nThis is a bug in Sluiceway (or in code it called). "
                "Rerun with -vv to see the traceback, and report it with that traceback."
            )
    _print_error(redact_text(message))
    return code


def _store_for_message() -> str:
    from sluiceway.metadata.urls import redact_url

    try:
        from sluiceway.cli.common import settings

        return redact_url(settings().store)
    except Exception:  # noqa: BLE001 - only naming the store for a message; the settings may be what failed
        return "the configured URL"


def _report_interrupt() -> int:
    describe = None
    try:
        from sluiceway.cli.common import state

        describe = state.describe_interrupt
    except BaseException:  # noqa: BLE001 - interrupted while loading the CLI itself: nothing to describe
        describe = None
    detail = "nothing was run."
    if describe is not None:
        try:
            detail = describe()
        except Exception as exc:  # noqa: BLE001 - the description reads the store; say so if it cannot
            detail = f"whether a run was recorded is unknown (reading the store failed: {type(exc).__name__}: {exc})."
    _print_error(detail, label="interrupted")
    return EXIT_INTERRUPTED


def _print_error(message: str, *, label: str = "error") -> None:
    text = message.removeprefix(f"{label}: ")  # an error that already says "error:" does not say it twice
    try:
        from rich.text import Text

        from sluiceway.cli.common import err_console

        err_console.print(
            Text.assemble((f"{label}:", "bold red" if label == "error" else "yellow"), " ", text), soft_wrap=True
        )
    except BaseException:  # noqa: BLE001 - Rich unusable (e.g. interrupted while importing): plain text
        sys.stderr.write(f"{label}: {text}\n")


def _print_traceback(exc: BaseException) -> None:
    from sluiceway.metadata.urls import redact_text

    sys.stderr.write(redact_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed pipe or closed stream: nothing more can be shown anyway
            pass
    if threading.active_count() > 1:
        # Worker threads may still be inside a component after a Ctrl-C: do not wait for them (their run is
        # already recorded CANCELED).
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
