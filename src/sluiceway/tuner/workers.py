"""Parallel trials in worker processes: ``parallel_trials=N`` runs N trials at once, each in its own process.

Threads share one interpreter lock, so CPU-bound trials (a scikit-learn fit) would take turns; processes
do not. The parent starts N workers (``python -m sluiceway.tuner.workers``, never a fork of a process
that runs threads, and never a re-import of the caller's ``__main__``), and talks to each over a socket
pair with pickled messages (between our own processes only):

- parent → worker: ``sys.path``, then the job (the study's name and the store URL beside which its
  storage lives, a sampler seed, the ``tuner_fn`` as a reference, the tuning data); then one yes/no per
  request for a new trial, from the budget the threads of the parent share (``search._Budget``);
- worker → parent: "may I start a trial?", its log records and prints (written to the execution's log by
  the parent), and how it ended: done, an error (the trial is recorded FAIL and the search stops) or an
  interrupt (Ctrl-C).

Every worker opens the same Optuna storage, the one beside the metadata store, so trials are numbered
and recorded there as with one process, heartbeats included (a killed worker's trial is failed on
resume). Ctrl-C in a terminal reaches the whole process group: each worker fails its running trial with
the message "interrupted by the user in trial N" and stops; a SIGINT sent to the parent alone is passed
on to the workers.
"""

from __future__ import annotations

import contextvars
import importlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluiceway.errors import ComponentError

if TYPE_CHECKING:
    import optuna

    from sluiceway.tuner.context import TuningData
    from sluiceway.tuner.search import SearchSettings, _Budget

logger = logging.getLogger(__name__)


def function_reference(function: Callable[..., Any]) -> dict[str, str | None]:
    """How a worker finds ``function``: its module (importable, or the pipeline file it was loaded from)."""
    module = sys.modules.get(function.__module__)
    return {
        "module": function.__module__,
        "qualname": function.__qualname__,
        "file": getattr(module, "__file__", None),
    }


def run_in_processes(
    study: optuna.Study,
    tuner_fn: Callable[..., Any],
    train: TuningData,
    eval_: TuningData,
    settings: SearchSettings,
    store_url: str,
    budget: _Budget,
    seeds: list[int],
) -> None:
    """Run the budget's trials in ``len(seeds)`` worker processes; raise what stopped the search, if anything."""
    job = {
        "store_url": store_url,
        "study_name": study.study_name,
        "tuner_fn": function_reference(tuner_fn),
        "train": train,
        "eval": eval_,
        "owner": settings.owner,
    }
    outcome = _Outcome()
    workers: list[_Worker] = []
    try:
        for index, seed in enumerate(seeds):
            workers.append(_Worker.start(index, {**job, "seed": seed}))
    except BaseException:
        for worker in workers:  # a closed connection is a "no" to their first request: they stop
            worker.connection.close()
            worker.process.wait()
        raise
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run,  # records and prints reach the execution's log
            args=(worker.serve, budget, outcome),
            name=f"sluiceway-tuner-worker-{worker.index}",
            daemon=True,
        )
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # KeyboardInterrupt while waiting: pass it on, let the workers fail their trials
        budget.stop()
        for worker in workers:
            worker.interrupt()
        raise
    finally:
        for worker in workers:
            worker.wait()
    outcome.raise_if_stopped()


class _Outcome:
    """The first error or interrupt any worker reported (the search stops at the first one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def stop(self, error: BaseException, budget: _Budget) -> None:
        budget.stop()
        with self._lock:
            if self.error is None:
                self.error = error

    def raise_if_stopped(self) -> None:
        if self.error is not None:
            raise self.error


class _Worker:
    """The parent's end of one worker process."""

    def __init__(self, index: int, process: subprocess.Popen[bytes], connection: Connection) -> None:
        self.index = index
        self.process = process
        self.connection = connection

    @classmethod
    def start(cls, index: int, job: dict[str, Any]) -> _Worker:
        import sluiceway

        ours, theirs = socket.socketpair()
        package_root = str(Path(sluiceway.__file__).resolve().parents[1])  # this sluiceway, even uninstalled
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
        }
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "sluiceway.tuner.workers", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            theirs.close()
        connection = Connection(ours.detach())
        try:
            connection.send(list(sys.path))
            connection.send(job)
        except OSError as exc:  # the worker died before reading its job (it printed why to stderr)
            connection.close()
            code = process.wait()
            raise ComponentError(
                f"{job['owner']}: tuning worker process {process.pid} ended before it started (exit code {code}; "
                f"{type(exc).__name__}: {exc}). Its error is on the standard error above."
            ) from exc
        return cls(index, process, connection)

    def serve(self, budget: _Budget, outcome: _Outcome) -> None:
        """Answer the worker's requests until it is done (runs in a thread of the parent)."""
        while True:
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                code = self.process.wait()
                outcome.stop(
                    ComponentError(
                        f"Tuner worker process {self.process.pid} ended without a word (exit code {code}): it was "
                        "killed or crashed. Its running trial is failed when the tuning resumes."
                    ),
                    budget,
                )
                return
            kind = message[0]
            if kind == "ask":
                self.connection.send(budget.take())
            elif kind == "log":
                record = logging.makeLogRecord(message[1])
                logging.getLogger(record.name).handle(record)
            elif kind == "print":
                (sys.stdout if message[1] == "stdout" else sys.stderr).write(message[2])
            elif kind == "error":
                outcome.stop(ComponentError(message[1]), budget)
            elif kind == "interrupted":
                outcome.stop(KeyboardInterrupt(message[1]), budget)
            elif kind == "done":
                return

    def interrupt(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def wait(self) -> None:
        self.process.wait()
        self.connection.close()


# ---- the worker process --------------------------------------------------------------------------------


class _Sender:
    """Sends pickled messages to the parent; one at a time (the heartbeat thread may log too)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.lock = threading.Lock()

    def send(self, *message: Any) -> None:
        with self.lock:
            self.connection.send(message)


class _ForwardRecords(logging.Handler):
    def __init__(self, sender: _Sender) -> None:
        super().__init__(logging.INFO)
        self.sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(record.__dict__)
            fields["msg"], fields["args"] = record.getMessage(), None
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["exc_info"] = None
            self.sender.send("log", {k: v for k, v in fields.items() if _plain(v)})
        except Exception:  # noqa: BLE001 - logging must never break a trial; handleError reports it
            self.handleError(record)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, tuple))


class _ForwardStream:
    """The worker's ``sys.stdout``/``sys.stderr``: what tuner_fn prints goes to the execution's log."""

    def __init__(self, sender: _Sender, name: str) -> None:
        self.sender = sender
        self.name = name

    def write(self, text: str) -> int:
        if text:
            self.sender.send("print", self.name, text)
        return len(text)

    def flush(self) -> None:
        pass  # every write is sent at once

    def isatty(self) -> bool:
        return False


def _interrupt_once(signum: int, frame: Any) -> None:
    """The first SIGINT stops the running trial; later ones must not break recording it as FAIL."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _resolve(reference: dict[str, str | None]) -> Callable[..., Any]:
    module_name, qualname, file = str(reference["module"]), str(reference["qualname"]), reference["file"]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        if file is None:
            raise
        # a pipeline file loaded under a private module name (sluiceway.dsl.loading): load it the same way
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # this worker process is ours
        spec.loader.exec_module(module)
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def main(fd: int) -> None:
    """A worker: run trials while the parent says yes (``python -m sluiceway.tuner.workers FD``)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    connection = Connection(fd)
    sys.path[:] = connection.recv()
    job = connection.recv()
    sender = _Sender(connection)
    logging.root.addHandler(_ForwardRecords(sender))
    logging.root.setLevel(logging.INFO)
    sys.stdout, sys.stderr = _ForwardStream(sender, "stdout"), _ForwardStream(sender, "stderr")
    try:
        import optuna

        from sluiceway.tuner.search import _objective
        from sluiceway.tuner.storage import open_storage

        study = optuna.load_study(
            study_name=job["study_name"],
            storage=open_storage(job["store_url"]),
            sampler=optuna.samplers.TPESampler(seed=job["seed"]),
            pruner=optuna.pruners.MedianPruner(),
        )
        objective = _objective(study, _resolve(job["tuner_fn"]), job["train"], job["eval"], job["owner"])
        while True:
            sender.send("ask")
            if not connection.recv():
                break
            study.optimize(objective, n_trials=1, catch=())
    except KeyboardInterrupt as exc:
        _tell(sender, "interrupted", str(exc) or f"{job['owner']}: interrupted by the user")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it as the component's error
        if isinstance(exc, ComponentError):
            _tell(sender, "error", str(exc))
        else:
            detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            _tell(sender, "error", f"{job['owner']}: a tuning worker process failed: {detail}")
    finally:
        _tell(sender, "done")


def _tell(sender: _Sender, *message: Any) -> None:
    try:
        sender.send(*message)
    except OSError:  # the parent is gone (Ctrl-C ended it first): the trial is recorded, nobody is left to tell
        pass


if __name__ == "__main__":
    main(int(sys.argv[1]))
