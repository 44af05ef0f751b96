"""The penguin example's own component: an evaluator with a blessing gate.

It stands in for the standard Evaluator until that lands; it shows how a custom component reads a Model
with ``sw.load_model`` and predicts on raw rows (the fitted transform inside the bundle does the rest).
"""

from __future__ import annotations

import sluiceway as sw

LABEL = "species"


@sw.component
def evaluate_classifier(
    model: sw.Input[sw.Model],
    examples: sw.Input[sw.Examples],
    evaluation: sw.Output[sw.ModelEvaluation],
    blessing: sw.Output[sw.ModelBlessing],
    *,
    min_accuracy: float = 0.9,
) -> None:
    """Accuracy overall and per island on the raw eval split; bless the model if accuracy >= min_accuracy."""
    frame = examples.read("eval").to_pandas().dropna(subset=[LABEL])
    predictions = sw.load_model(model).predict(frame.drop(columns=[LABEL]))
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
