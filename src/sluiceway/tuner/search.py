"""Run the trials of a study: a budget shared by ``parallel_trials`` threads, each trial logged.

``num_trials`` counts the study's *finished* trials (COMPLETE or PRUNED), including those of an earlier,
interrupted execution of the same study: a resumed tuning runs only what is missing. Failed trials (an
interrupted one, a stale one) do not count. Each worker thread runs one trial at a time through
``study.optimize(n_trials=1)``, which keeps Optuna's heartbeat and its FAIL/PRUNED bookkeeping; the
threads run in a copy of the caller's context so their log records reach the execution's log file.

With ``parallel_trials=1`` the trial sequence is a function of the seed and the finished trials alone;
with more, which thread asks first is up to the scheduler (Optuna's parallel TPE is not reproducible).
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
from sluiceway.tuner.storage import OWNER_ATTR, owner_tag

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSettings:
    num_trials: int
    parallel_trials: int
    timeout: float | None
    owner: str  # who runs the search, for messages: "component 'Tuner'"


def finished_trials(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def run_search(
    study: optuna.Study,
    tuner_fn: Callable[..., Any],
    train: TuningData,
    eval_: TuningData,
    settings: SearchSettings,
) -> int:
    """Start ``num_trials`` minus the study's finished trials (fewer at the timeout); returns how many ran.

    A trial whose ``tuner_fn`` raises stops the search: the trial is recorded FAIL and ``ComponentError``
    names it (the user's exception chained). ``KeyboardInterrupt`` fails the running trial and propagates.
    """
    budget = _Budget(settings.num_trials - finished_trials(study), settings.timeout)
    if budget.remaining <= 0:
        logger.info(
            "The study %s already has %d finished trial(s): nothing to run.", study.study_name, finished_trials(study)
        )
        return 0
    objective = _objective(study, tuner_fn, train, eval_, settings)
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
    settings: SearchSettings,
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
        except Exception as exc:
            raise ComponentError(
                f"{settings.owner}: tuner_fn {_name(tuner_fn)} raised in trial {trial.number} (parameters "
                f"{trial.params}): {type(exc).__name__}: {exc}. The trial is recorded FAIL; fix tuner_fn and run "
                "again (finished trials are kept)."
            ) from exc
        value = _as_objective(result, trial.number, tuner_fn, settings.owner)
        logger.info(
            "Trial %d finished in %.2f s: value %s, parameters %s",
            trial.number,
            time.monotonic() - started,
            value,
            trial.params,
        )
        return value

    return objective


def _as_objective(result: Any, number: int, tuner_fn: Callable[..., Any], owner: str) -> float:
    if isinstance(result, bool) or not isinstance(result, (int, float)) and not hasattr(result, "__float__"):
        raise ComponentError(
            f"{owner}: tuner_fn {_name(tuner_fn)} must return the objective as a number; trial {number} returned "
            f"{type(result).__name__} {result!r}. Return e.g. the eval accuracy: return float(score)."
        )
    return float(result)


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
