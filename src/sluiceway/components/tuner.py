"""Tuner: an Optuna search over the user's space → ``HyperParameters`` for the Trainer.

    Tuner(examples=transform.transformed_examples, transform_graph=transform.transform_graph,
          tuner_fn="model:tuner_fn", num_trials=30, direction="maximize", seed=0)

``tuner_fn(trial, ctx)`` (a function or a ``"module:function"`` string, checked when the pipeline is built,
its code part of the cache key like Transform's ``preprocessing_fn``) draws its parameters with
``trial.suggest_*``, trains on ``ctx.train`` (``.X``, ``.y``, ``.frame``, ``.pandas()``), scores on
``ctx.eval`` and returns the objective; ``ctx.report(value, step)`` lets the pruner (MedianPruner) stop a
bad trial early. The label is ``label`` if given, else the one output of the transform graph computed only
from columns absent at serving time, else the schema's one feature absent in the SERVING environment.

The study is persistent (``sluiceway.tuner.storage``; in memory when the executor is called outside a
runner, e.g. by ``sluiceway.testing.check_component``): an interrupted tuning, rerun with the same inputs
and ``tuner_fn``, keeps its finished trials and runs only the missing ones. The sampler is
``TPESampler(seed=seed)``, so with ``parallel_trials=1`` the same inputs give the same trials;
``parallel_trials=N`` runs N trials at once in worker processes sharing the study (``sluiceway.tuner.search``).
Output: ``hyperparameters`` (``{uri}/hyperparameters.json``: the best trial's parameters as ``values``,
the best value, the direction, every trial of the study).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pydantic

from sluiceway.artifacts import Examples, HyperParameters, Schema, TransformGraph
from sluiceway.components.transform import PreprocessingFn
from sluiceway.dsl.functions import function_cache_key, resolve_function
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import ComponentError, DataError, DefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable

    import optuna

logger = logging.getLogger(__name__)

TunerFn = PreprocessingFn  # the same accepted forms: a function or a "module:function" string


def resolve_tuner_fn(value: Any, owner: str = "Tuner") -> Callable[..., Any]:
    """The function a ``tuner_fn`` parameter names; ``DefinitionError`` saying how to fix it if not."""
    return resolve_function(
        value,
        parameter="tuner_fn",
        owner=owner,
        takes="the Optuna trial and the tuning context",
        usage="def tuner_fn(trial, ctx): ... return score",
        arity=2,
    )


class Tuner(Component):
    """Examples (+ TransformGraph, Schema) → HyperParameters, with a persistent, resumable Optuna study."""

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        function = resolve_tuner_fn(parameters["tuner_fn"], owner)
        parallel = parameters.get("parallel_trials", 1)
        if isinstance(parallel, int) and parallel > 1 and "<" in function.__qualname__:
            # worker processes find tuner_fn by module and name: a nested function or a lambda has none
            raise DefinitionError(
                f"The 'tuner_fn' of {owner} is {function.__qualname__}, a lambda or a nested function; with "
                f"parallel_trials={parallel} the worker processes must import it by name. "
                "Define it at module level (or in the pipeline file), or use parallel_trials=1."
            )
        from sluiceway.errors import require

        require("optuna", feature="The Tuner", extra="optuna")

    def cache_key(self) -> dict[str, Any]:
        return function_cache_key(self.parameters["tuner_fn"], "tuner_fn_code", resolve_tuner_fn)

    def execute(  # type: ignore[override]
        self,
        examples: Input[Examples],
        hyperparameters: Output[HyperParameters],
        transform_graph: Input[TransformGraph] | None = None,
        schema: Input[Schema] | None = None,
        *,
        tuner_fn: TunerFn,
        num_trials: Annotated[int, pydantic.Field(ge=1)] = 20,
        parallel_trials: Annotated[int, pydantic.Field(ge=1)] = 1,
        timeout: Annotated[float, pydantic.Field(gt=0)] | None = None,
        direction: Literal["maximize", "minimize"] = "maximize",
        seed: int = 0,
        label: str | None = None,
        train_split: str = "train",
        eval_split: str = "eval",
    ) -> None:
        from sluiceway.tuner.context import load_split
        from sluiceway.tuner.search import SearchSettings, run_search

        function = resolve_tuner_fn(tuner_fn)
        own_id = self.__dict__.get("id", type(self).__name__)  # check_component runs an instance never built
        target = label or _label_of(transform_graph, schema)
        train = load_split(examples, train_split, target)
        eval_ = load_split(examples, eval_split, target, train.feature_names)
        identity = {
            "inputs": {
                name: artifact.fingerprint
                for name, artifact in (("examples", examples), ("transform_graph", transform_graph), ("schema", schema))
                if artifact is not None
            },
            "direction": direction,
            "seed": seed,
            "label": target,
            "splits": [train_split, eval_split],
        }
        study = _open_study(own_id, function, identity, direction, seed)
        logger.info(
            "Study %s: %d trial(s) recorded; tuning %s on %d train / %d eval rows, label %r, %d feature(s).",
            study.study_name,
            len(study.trials),
            direction,
            len(train),
            len(eval_),
            target,
            len(train.feature_names),
        )
        settings = SearchSettings(
            num_trials, parallel_trials, timeout, f"component {own_id!r} (Tuner)", store_url=_shared_store_url()
        )
        ran = run_search(study, function, train, eval_, settings, seed=seed)
        _write_best(study, ran, settings.owner, direction, hyperparameters)


def _open_study(
    own_id: str,
    function: Callable[..., Any],
    identity: dict[str, Any],
    direction: Literal["maximize", "minimize"],
    seed: int,
) -> optuna.Study:
    """The persistent study of this tuning (in memory outside a runner), its orphaned trials failed."""
    import optuna

    from sluiceway.dsl.fingerprint import callable_fingerprint
    from sluiceway.runners.execute import current_execution
    from sluiceway.tuner.storage import fail_orphaned_trials, open_storage, study_name

    where = current_execution()
    if where is None:  # called outside a runner (check_component, a notebook): no store to keep it beside
        logger.info("Not run by a runner: the study is kept in memory and will not resume.")
        storage: optuna.storages.BaseStorage = optuna.storages.InMemoryStorage()
        pipeline, component_id = "standalone", own_id
    else:
        storage = open_storage(where.store_url)
        pipeline, component_id = where.pipeline_name, where.component_id
    name = study_name(pipeline, component_id, {**identity, "tuner_fn": callable_fingerprint(function)})
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(),
        load_if_exists=True,
    )
    if study.trials:
        # A fresh sampler with the same seed would replay the trials already recorded (TPE's first trials
        # are random draws): continue with a seed derived from the seed and how many trials there are.
        study.sampler = optuna.samplers.TPESampler(seed=resumed_seed(seed, len(study.trials)))
    orphans = fail_orphaned_trials(study)
    if orphans:
        logger.info("Trial(s) %s of study %s were left running by a process that is gone: failed.", orphans, name)
    return study


def _shared_store_url() -> str | None:
    """The store URL the study lives beside when worker processes can share it (not for an in-memory study)."""
    from sluiceway.runners.execute import current_execution
    from sluiceway.tuner.storage import storage_url

    where = current_execution()
    if where is None or storage_url(where.store_url) is None:
        return None
    return where.store_url


def _write_best(study: optuna.Study, ran: int, owner: str, direction: str, output: HyperParameters) -> None:
    """Write the best trial's parameters and the whole trial history; ``ComponentError`` if none completed."""
    import optuna

    from sluiceway.tuner.hyperparameters import document, write_hyperparameters

    trials = study.get_trials(deepcopy=False)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in trials):
        raise ComponentError(
            f"{owner}: no trial of study {study.study_name} completed ({len(trials)} recorded: "
            f"{sorted({t.state.name for t in trials})}), so there are no hyperparameters to choose. Check "
            "tuner_fn in the execution log, or raise num_trials / timeout."
        )
    best = study.best_trial
    logger.info(
        "Best trial %d (of %d, %d run now): value %s, parameters %s",
        best.number,
        len(trials),
        ran,
        best.value,
        best.params,
    )
    write_hyperparameters(output.file, document(best.params, best_value=best.value, objective=direction, trials=trials))
    output.properties["best_value"] = float(best.value) if best.value is not None else float("nan")
    output.properties["num_trials"] = len(trials)


def resumed_seed(seed: int, recorded: int) -> int:
    """The sampler seed of a study resumed with ``recorded`` trials: deterministic, different per resume."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{recorded}".encode()).digest()[:4], "big")


def _label_of(transform_graph: TransformGraph | None, schema: Schema | None) -> str:
    """The label when ``label`` is not given: see the module docstring."""
    if transform_graph is not None:
        from sluiceway.transform import load_transform

        fitted = load_transform(transform_graph)
        training_only = [
            name
            for name, expr in fitted.outputs.items()
            if expr.columns() and not any(fitted.inputs[c].get("serving", True) for c in expr.columns())
        ]
        if len(training_only) == 1:
            return training_only[0]
    if schema is not None:
        from sluiceway.data.schema import SERVING, load_schema

        curated = load_schema(schema.file)
        absent = [f.name for f in curated.features if not f.in_env(SERVING, curated.default_environment)]
        if len(absent) == 1:
            return absent[0]
    raise DataError(
        "Tuner: cannot tell which column is the label (no transform output is computed only from columns absent "
        "at serving time, and the schema marks no single feature absent in the SERVING environment). Pass "
        "label='<column>' to the Tuner."
    )
