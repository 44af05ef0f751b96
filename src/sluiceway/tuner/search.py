"""Run the trials of a study: a budget shared by ``parallel_trials`` workers, each trial logged.

``num_trials`` counts the study's *finished* trials (COMPLETE or PRUNED), including those of an earlier,
interrupted execution of the same study: a resumed tuning runs only what is missing. Failed trials (an
interrupted one, a stale one) do not count. Each worker runs one trial at a time through
``study.optimize(n_trials=1)``, which keeps Optuna's heartbeat and its FAIL/PRUNED bookkeeping.

``parallel_trials=1`` runs the trials in the calling thread: the trial sequence is a function of the seed
and the finished trials alone. With more, the trials run in as many worker processes
(``sluiceway.tuner.workers``) sharing the study's storage beside the metadata store, so CPU-bound trials
really run at once; which worker asks first is up to the scheduler (Optuna's parallel TPE is not
reproducible). A study kept in memory (no runner, e.g. ``check_component``) cannot be shared between
processes: its trials run in threads instead.

A failed trial keeps why in its system attribute ``fail_reason`` (``FAIL_REASON_ATTR``), which the
``HyperParameters`` trial history shows as ``error``: the user's exception, or "interrupted by the user
in trial N" for Ctrl-C.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sluiceway.errors import ComponentError
from sluiceway.tuner.context import TuningContext, TuningData
from sluiceway.tuner.storage import FAIL_REASON_ATTR, OWNER_ATTR, owner_tag

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSettings:
    num_trials: int
    parallel_trials: int
    timeout: float | None
    owner: str  # who runs the search, for messages: "component 'Tuner'"
    store_url: str | None = None  # the metadata store the study lives beside; None: the study is in memory


def finished_trials(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def run_search(
    study: optuna.Study,
    tuner_fn: Callable[..., Any],
    train: TuningData,
    eval_: TuningData,
    settings: SearchSettings,
    seed: int = 0,
) -> int:
    """Start ``num_trials`` minus the study's finished trials (fewer at the timeout); returns how many ran.

    A trial whose ``tuner_fn`` raises stops the search: the trial is recorded FAIL and ``ComponentError``
    names it (the user's exception chained). ``KeyboardInterrupt`` fails the running trial(s) and propagates
    with the message "interrupted by the user in trial N".
    """
    budget = _Budget(settings.num_trials - finished_trials(study), settings.timeout)
    if budget.remaining <= 0:
        logger.info(
            "The study %s already has %d finished trial(s): nothing to run.", study.study_name, finished_trials(study)
        )
        return 0
    if settings.parallel_trials > 1 and settings.store_url is not None:
        from sluiceway.tuner.workers import run_in_processes

        recorded = len(study.trials)
        seeds = [worker_seed(seed, recorded, index) for index in range(settings.parallel_trials)]
        logger.info("Running up to %d trials at once in worker processes.", settings.parallel_trials)
        run_in_processes(study, tuner_fn, train, eval_, settings, settings.store_url, budget, seeds)
        return budget.taken
    objective = _objective(study, tuner_fn, train, eval_, settings.owner)
    errors: list[BaseException] = []

    def work() -> None:
        while budget.take() and not errors:
            try:
                study.optimize(objective, n_trials=1, catch=())
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
                errors.append(exc)
                return

    workers = [
        threading.Thread(target=contextvars.copy_context().run, args=(work,), name=f"sluiceway-trial-{i}", daemon=True)
        for i in range(settings.parallel_trials - 1)
    ]
    for worker in workers:
        worker.start()
    try:
        work()  # the calling thread is one of the workers: parallel_trials=1 starts no thread
    finally:
        if errors:
            budget.stop()
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return budget.taken


def worker_seed(seed: int, recorded: int, index: int) -> int:
    """The sampler seed of worker ``index`` when the study has ``recorded`` trials: each worker draws its own
    sequence (the same seed would have every worker propose the same first parameters)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{recorded}:{index}".encode()).digest()[:4], "big")


class _Budget:
    """Trials left to start, shared by the worker threads; stops at the deadline."""

    def __init__(self, remaining: int, timeout: float | None) -> None:
        self.remaining = remaining
        self.taken = 0
        self.deadline = time.monotonic() + timeout if timeout is not None else None
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.remaining <= 0:
                return False
            if self.deadline is not None and time.monotonic() >= self.deadline:
                logger.info("The tuning timeout has passed: no new trial starts.")
                self.remaining = 0
                return False
            self.remaining -= 1
            self.taken += 1
            return True

    def stop(self) -> None:
        with self._lock:
            self.remaining = 0


def _objective(
    study: optuna.Study,
    tuner_fn: Callable[..., Any],
    train: TuningData,
    eval_: TuningData,
    owner: str,
) -> Callable[[optuna.Trial], float]:
    import optuna

    def objective(trial: optuna.Trial) -> float:
        # Optuna has no public setter for system attributes any more; its own heartbeat code uses the storage.
        study._storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, owner_tag())
        started = time.monotonic()
        context = TuningContext(train=train, eval=eval_, label=train.label, trial=trial)
        try:
            result = tuner_fn(trial, context)
        except optuna.TrialPruned:
            logger.info("Trial %d pruned after %.2f s: %s", trial.number, time.monotonic() - started, trial.params)
            raise
        except KeyboardInterrupt:
            message = (
                f"{owner}: interrupted by the user in trial {trial.number} (parameters {trial.params}, after "
                f"{time.monotonic() - started:.1f} s). The trial is recorded FAIL; the finished trials are kept: run "
                "the pipeline again (or --resume the run) to continue the study."
            )
            _record_fail_reason(study, trial, message)
            raise KeyboardInterrupt(message) from None
        except Exception as exc:
            message = (
                f"{owner}: tuner_fn {_name(tuner_fn)} raised in trial {trial.number} (parameters "
                f"{trial.params}): {type(exc).__name__}: {exc}. The trial is recorded FAIL; fix tuner_fn and run "
                "again (finished trials are kept)."
            )
            _record_fail_reason(study, trial, message)
            raise ComponentError(message) from exc
        value = _as_objective(result, trial.number, tuner_fn, owner)
        logger.info(
            "Trial %d finished in %.2f s: value %s, parameters %s",
            trial.number,
            time.monotonic() - started,
            value,
            trial.params,
        )
        return value

    return objective


def _record_fail_reason(study: optuna.Study, trial: optuna.Trial, message: str) -> None:
    """Keep why the trial failed with it (the trial history shows it), before Optuna records it FAIL."""
    try:
        study._storage.set_trial_system_attr(trial._trial_id, FAIL_REASON_ATTR, message)
    except Exception as exc:  # noqa: BLE001 - the trial's own failure is what must propagate; this is a detail
        logger.warning("Could not record why trial %d failed: %s", trial.number, exc)


def _as_objective(result: Any, number: int, tuner_fn: Callable[..., Any], owner: str) -> float:
    if isinstance(result, bool) or not isinstance(result, (int, float)) and not hasattr(result, "__float__"):
        raise ComponentError(
            f"{owner}: tuner_fn {_name(tuner_fn)} must return the objective as a number; trial {number} returned "
            f"{type(result).__name__} {result!r}. Return e.g. the eval accuracy: return float(score)."
        )
    return float(result)


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
