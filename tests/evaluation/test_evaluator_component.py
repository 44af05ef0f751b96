"""The Evaluator in real pipelines on real stores: the blessing, the baseline resolver across runs, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from eval_fixtures import FEATURES, make_frame, write_examples, write_model
from sklearn.linear_model import LogisticRegression

import sluiceway as sw
from sluiceway.components import DataFrameExampleGen, Evaluator, Trainer
from sluiceway.evaluation import EvalConfig, Fairness, Threshold
from sluiceway.metadata.store import MetadataStore
from sluiceway.resolve import find_latest_blessed_model
from sluiceway.testing import check_component

CONFIG = EvalConfig(
    label="y",
    slices=[(), ("group",)],
    thresholds={"accuracy": Threshold(lower=0.7, max_drop=0.01), "log_loss": Threshold(max_rise=0.05)},
    fairness=Fairness(sensitive=["group"]),
    importance_rows=300,
)


def run_fn(ctx):  # noqa: ANN001, ANN201 - the TrainerContext
    X, y = ctx.train.numpy()
    ctx.save_model(LogisticRegression(C=ctx.train_args["C"], max_iter=500).fit(X, y))


def credit_pipeline(frame: pl.DataFrame, regularization: float, **evaluator: object) -> sw.Pipeline:
    gen = DataFrameExampleGen(frame=frame)
    trainer = Trainer(examples=gen.examples, run_fn=run_fn, label="y", features=FEATURES,
                      train_args={"C": regularization})
    evaluate = Evaluator(model=trainer.model, examples=gen.examples, baseline_model=sw.resolve.latest_blessed_model(),
                         eval_config=CONFIG, **evaluator)  # type: ignore[arg-type]
    return sw.Pipeline("credit", [gen, trainer, evaluate])


def _blessing(run: sw.Run) -> dict:
    blessing = run.output("Evaluator", "blessing")
    marker = sw.ModelBlessing.BLESSED_MARKER if blessing.properties["blessed"] else sw.ModelBlessing.NOT_BLESSED_MARKER
    assert sorted(p.name for p in blessing.path.iterdir()) == sorted([marker, sw.ModelBlessing.FILENAME])
    return json.loads(blessing.file.read_text())


def test_a_crippled_second_model_is_judged_against_the_first_and_not_blessed(store_url: str, tmp_path: Path) -> None:
    runner = sw.LocalRunner(store=store_url, artifact_root=tmp_path / "artifacts", parallelism=2)
    frame = make_frame(2400, seed=3)

    first = runner.run(credit_pipeline(frame, 1.0)).raise_for_status()
    good_model = first.output("Trainer", "model")
    assert "baseline_model" not in first["Evaluator"].inputs  # nothing blessed yet: value bounds only
    assert _blessing(first) == {"blessed": True, "reasons": [], "failed": [], "checks": 1,  # the lower bound only
                                "model_uri": good_model.uri, "baseline_uri": None}
    with MetadataStore(store_url) as store:
        assert find_latest_blessed_model(store, "credit").id == good_model.id

    second = runner.run(credit_pipeline(frame, 1e-4)).raise_for_status()  # crippled: almost no signal left
    assert second["Evaluator"].inputs["baseline_model"].id == good_model.id  # resolved at run time, recorded
    blessing = _blessing(second)
    assert blessing["blessed"] is False and blessing["baseline_uri"] == good_model.uri
    reasons = "\n".join(blessing["reasons"])
    assert "accuracy on Overall is 0." in reasons and "below the lower bound 0.7" in reasons
    assert "accuracy on Overall fell from 0.7" in reasons and "> max_drop 0.01" in reasons
    assert "log_loss on Overall rose from" in reasons and "> max_rise 0.05" in reasons
    assert {c["bound"] for c in blessing["failed"]} == {"lower", "max_drop", "max_rise"}
    assert all(c["baseline"] is not None and c["value"] is not None for c in blessing["failed"])
    evaluation = second.output("Evaluator", "evaluation")
    assert evaluation.properties["blessed"] is False and evaluation.properties["has_baseline"] is True
    written = json.loads(evaluation.file.read_text())
    assert written["baseline"]["model_uri"] == good_model.uri and written["reasons"] == blessing["reasons"]
    report = evaluation.report_file.read_text()
    assert "NOT blessed" in report and "below the lower bound 0.7" in report and "Fairness" in report
    with MetadataStore(store_url) as store:
        assert find_latest_blessed_model(store, "credit").id == good_model.id  # the failed model is no baseline
        assert find_latest_blessed_model(store, "other-pipeline") is None

    # The good model again, from the cache: never its own baseline, so its baseline is what it had on the first
    # run (none) and its evaluation comes from the cache too.
    third = runner.run(credit_pipeline(frame, 1.0)).raise_for_status()
    assert third["Trainer"].state == "CACHED" and third["Evaluator"].state == "CACHED"
    assert "baseline_model" not in third["Evaluator"].inputs
    assert _blessing(third)["blessed"] is True and _blessing(third)["baseline_uri"] is None
    with MetadataStore(store_url) as store:
        assert find_latest_blessed_model(store, "credit", exclude={good_model.id}) is None

    good_model.path.rename(tmp_path / "removed-model")  # what `sluiceway gc` or a hand may do
    with MetadataStore(store_url) as store:
        assert find_latest_blessed_model(store, "credit") is None  # never a baseline that cannot be loaded


def test_the_gate_option_stops_the_run_with_every_reason(tmp_path: Path) -> None:
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")
    frame = make_frame(1500, seed=4)
    runner.run(credit_pipeline(frame, 1.0, fail_on_not_blessed=True)).raise_for_status()
    run = runner.run(credit_pipeline(frame, 1e-4, fail_on_not_blessed=True))
    assert run.state == "FAILED" and run["Evaluator"].state == "FAILED"
    assert "ModelNotBlessed" in run["Evaluator"].error and "below the lower bound 0.7" in run["Evaluator"].error
    report = run.output("Evaluator", "evaluation").report_file  # published: the reason stays readable
    assert str(report) in run["Evaluator"].error and report.is_file()
    with pytest.raises(sw.ComponentError, match="fell from"):
        run.raise_for_status()


@sw.component
def needs_a_model(model: sw.Input[sw.Model], evaluation: sw.Output[sw.ModelEvaluation]) -> None:
    evaluation.write_json("seen.json", {"model": model.uri})


def test_a_required_input_from_a_resolver_that_finds_nothing_explains_itself(tmp_path: Path) -> None:
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")
    pipeline = sw.Pipeline("fresh", [needs_a_model(model=sw.resolve.latest_blessed_model())])
    run = runner.run(pipeline)
    assert run.state == "FAILED"
    with pytest.raises(sw.RunError, match=r"latest blessed Model of this pipeline>, which found nothing"):
        run.raise_for_status()


def test_bad_configuration_fails_when_the_pipeline_is_built() -> None:
    gen = DataFrameExampleGen(frame=make_frame(50))
    trainer = Trainer(examples=gen.examples, run_fn=run_fn, label="y", features=FEATURES, train_args={"C": 1.0})
    with pytest.raises(sw.DefinitionError, match="lower-is-better: a drop is an improvement"):
        Evaluator(model=trainer.model, examples=gen.examples,
                  eval_config={"thresholds": {"log_loss": {"max_drop": 0.1}}})
    with pytest.raises(sw.DefinitionError, match="expects Model"):
        Evaluator(model=gen.examples, examples=gen.examples)
    with pytest.raises(sw.ConfigError, match="Threshold is invalid: give at least one of lower="):
        Threshold()
    with pytest.raises(sw.DefinitionError, match="'evaluator' argument .* must be a non-empty string"):
        sw.resolve.latest_blessed_model(evaluator="")


def test_the_evaluator_keeps_the_component_contract_and_escapes_its_report(tmp_path: Path) -> None:
    frame = make_frame(600, seed=5).with_columns(
        pl.when(pl.col("group") == "c").then(pl.lit("<script>alert(1)</script>")).otherwise(pl.col("group"))
        .alias("group")
    )
    examples = write_examples(tmp_path / "examples", {"eval": frame})
    model = write_model(tmp_path / "model", LogisticRegression(max_iter=1000), make_frame(600, seed=6), label="y")
    outputs = check_component(
        Evaluator, inputs={"model": model, "examples": examples, "baseline_model": model},
        parameters={"eval_config": CONFIG}, workdir=tmp_path / "out",
    )  # also checks that a second run writes the same bytes
    report = outputs["evaluation"].report_file.read_text()
    assert "<script>" not in report and "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert outputs["blessing"].properties["blessed"] is True  # the same model as baseline: no change
