"""The penguin pipeline: TFX's canonical example, end to end on embedded defaults.

    sluiceway run examples/penguin/pipeline.py

Ingest the Palmer penguins CSV (shipped by the `palmerpenguins` package), compute statistics, infer a
schema, validate the data against it (a gate before training), engineer features with Transform (its
fitted graph is what serving applies to raw rows), train a scikit-learn classifier on its output with
the standard Trainer (a Model bundle: skops file, transform, signature) and evaluate it on raw rows
against a blessing threshold. Metadata and artifacts go to ./.sluiceway/.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

import sluiceway as sw
from sluiceway.components import CsvExampleGen, ExampleValidator, SchemaGen, StatisticsGen, Trainer, Transform

sys.path.insert(0, str(Path(__file__).parent))
from components import evaluate_classifier  # noqa: E402
from features import preprocessing_fn  # noqa: E402
from model import run_fn  # noqa: E402


def penguins_csv() -> str:
    spec = find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        raise sw.DefinitionError("The penguin example needs the 'palmerpenguins' package: pip install palmerpenguins")
    return str(Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv")


def create_pipeline() -> sw.Pipeline:
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
        train_args={"C": 1.0},
        after=[validator],
    )
    evaluator = evaluate_classifier(model=trainer.model, examples=example_gen.examples, min_accuracy=0.9)
    return sw.Pipeline("penguin", [example_gen, statistics, schema, validator, transform, trainer, evaluator])


pipeline = create_pipeline()
