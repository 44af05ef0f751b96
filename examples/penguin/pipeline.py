"""The penguin pipeline: TFX's canonical example, end to end on embedded defaults.

    sluiceway run examples/penguin/pipeline.py
    sluiceway run examples/penguin/pipeline.py:crippled_pipeline   # a worse model: evaluated, not blessed

Ingest the Palmer penguins CSV (shipped by the `palmerpenguins` package), compute statistics, infer a
schema, validate the data against it (a gate before training), engineer features with Transform (its
fitted graph is what serving applies to raw rows), train a scikit-learn classifier on its output with
the standard Trainer (a Model bundle: skops file, transform, signature) and evaluate it on the raw eval
rows with the Evaluator: metrics overall and per island and sex, fairness across sexes, feature
importance, and thresholds, against the last blessed model of this pipeline as baseline (none on the
first run). A blessed model is then loaded in the real model server by the InfraValidator (canary
requests, latency) and pushed to a versioned serving directory that `sluiceway serve` watches; a model
that is not blessed is neither tried nor pushed, and the run says why. Metadata and artifacts go to
./.sluiceway/, pushed models to ./.sluiceway/serving/penguin/{version}/.
"""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path

import sluiceway as sw
from sluiceway.components import (
    CsvExampleGen,
    Evaluator,
    ExampleValidator,
    InfraValidator,
    Pusher,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
)
from sluiceway.evaluation import EvalConfig, Fairness, Threshold

sys.path.insert(0, str(Path(__file__).parent))
from features import preprocessing_fn  # noqa: E402
from model import run_fn  # noqa: E402

# What a model must do to be blessed: value bounds always, change bounds against the last blessed model.
EVAL_CONFIG = EvalConfig(
    label="species",
    slices=[(), ("island",), ("sex",), ("island", "sex")],
    metrics=["accuracy", "f1", "auc", "log_loss", "calibration_error"],
    thresholds={
        "accuracy": Threshold(lower=0.9, max_drop=0.02),
        "log_loss": Threshold(upper=0.5, max_rise=0.1),
    },
    fairness=Fairness(sensitive=["sex"], positive_class="Adelie"),
    min_slice_size=30,  # smaller slices (island x sex) are reported, not gated
)


# Where pushed versions go (relative to the folder the pipeline runs in, beside the store and artifacts).
SERVING_DIRECTORY = os.environ.get("PENGUIN_SERVING_DIR", ".sluiceway/serving")


def penguins_csv() -> str:
    spec = find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        raise sw.DefinitionError("The penguin example needs the 'palmerpenguins' package: pip install palmerpenguins")
    return str(Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv")


def create_pipeline(regularization: float = 1.0) -> sw.Pipeline:
    example_gen = CsvExampleGen(input_pattern=penguins_csv())
    statistics = StatisticsGen(examples=example_gen.examples)
    schema = SchemaGen(statistics=statistics.statistics, label="species")
    validator = ExampleValidator(statistics=statistics.statistics, schema=schema.schema)
    # Fitted on the train split, applied to every split; the label is absent at serving (see the schema).
    transform = Transform(examples=example_gen.examples, schema=schema.schema, preprocessing_fn=preprocessing_fn)
    # Train only on data that passed validation: the validator is a gate.
    trainer = Trainer(
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        schema=schema.schema,
        run_fn=run_fn,
        train_args={"C": regularization},
        after=[validator],
    )
    # On raw rows, through the bundle's own transform (the server's path); the baseline is found at run time.
    evaluator = Evaluator(
        model=trainer.model,
        examples=example_gen.examples,
        baseline_model=sw.resolve.latest_blessed_model(),
        eval_config=EVAL_CONFIG,
    )
    # Only a blessed model is tried in the real server (started in a separate process with canary requests
    # built from eval rows); a model the Evaluator refused is SKIPPED here, and so is the Pusher after it.
    infra_validator = InfraValidator(
        model=trainer.model, examples=example_gen.examples, when=evaluator.blessing.blessed
    )
    # Pushes only when both blessings are positive: a new version under .sluiceway/serving/penguin/, which
    # `sluiceway serve --model-dir .sluiceway/serving` picks up without a restart.
    pusher = Pusher(
        model=trainer.model,
        model_blessing=evaluator.blessing,
        infra_blessing=infra_validator.blessing,
        base_directory=SERVING_DIRECTORY,
    )
    components = [example_gen, statistics, schema, validator, transform, trainer, evaluator, infra_validator, pusher]
    return sw.Pipeline("penguin", components)


def crippled_pipeline() -> sw.Pipeline:
    """The same pipeline with a deliberately bad model (almost no regularization budget): not blessed."""
    return create_pipeline(regularization=1e-4)


pipeline = create_pipeline()
