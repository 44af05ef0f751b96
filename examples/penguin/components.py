"""The penguin example's own components: a scikit-learn trainer and an evaluator with a blessing gate.

They stand in for the standard Trainer and Evaluator until those land; they show how a custom component
reads ``Examples`` (Parquet splits) and writes typed outputs.
"""

from __future__ import annotations

import json
import pickle

import sluiceway as sw

FEATURES_NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
FEATURES_CATEGORICAL = ["island", "sex"]
LABEL = "species"


def _frame(examples: sw.Examples, split: str):  # -> pandas.DataFrame
    return examples.read(split).to_pandas()


@sw.component
def train_classifier(
    examples: sw.Input[sw.Examples],
    model: sw.Output[sw.Model],
    *,
    regularization: float = 1.0,
    seed: int = 0,
) -> None:
    """Fit impute + scale + one-hot + logistic regression on the train split."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = _frame(examples, "train")
    preprocess = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), FEATURES_NUMERIC),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         FEATURES_CATEGORICAL),
    ])
    classifier = make_pipeline(preprocess, LogisticRegression(C=regularization, max_iter=1000, random_state=seed))
    train = train.dropna(subset=[LABEL])
    classifier.fit(train[FEATURES_NUMERIC + FEATURES_CATEGORICAL], train[LABEL])
    with (model.path / "model.pkl").open("wb") as handle:
        pickle.dump(classifier, handle)
    signature = {"inputs": FEATURES_NUMERIC + FEATURES_CATEGORICAL, "output": LABEL}
    (model.path / "signature.json").write_text(json.dumps(signature))
    model.properties["flavor"] = "sklearn"
    model.properties["train_rows"] = len(train)


@sw.component
def evaluate_classifier(
    model: sw.Input[sw.Model],
    examples: sw.Input[sw.Examples],
    evaluation: sw.Output[sw.ModelEvaluation],
    blessing: sw.Output[sw.ModelBlessing],
    *,
    min_accuracy: float = 0.9,
) -> None:
    """Accuracy overall and per island on the eval split; bless the model if accuracy >= min_accuracy."""
    with (model.path / "model.pkl").open("rb") as handle:
        classifier = pickle.load(handle)  # noqa: S301 - our own artifact
    frame = _frame(examples, "eval").dropna(subset=[LABEL])
    predictions = classifier.predict(frame[FEATURES_NUMERIC + FEATURES_CATEGORICAL])
    correct = predictions == frame[LABEL].to_numpy()
    islands = frame["island"]
    per_island = {island: float(correct[(islands == island).to_numpy()].mean()) for island in sorted(islands.unique())}
    accuracy = float(correct.mean())
    evaluation.write_json(
        "evaluation.json", {"accuracy": accuracy, "rows": len(frame), "accuracy_by_island": per_island}
    )
    evaluation.properties["accuracy"] = accuracy
    blessed = accuracy >= min_accuracy
    (blessing.path / ("BLESSED" if blessed else "NOT_BLESSED")).touch()
    blessing.properties["blessed"] = blessed
