"""ServingStatsGen in a pipeline: the request log's statistics feed ExampleValidator's skew check."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import monitoring_fixtures as mf
import pytest

import sluiceway as sw
from sluiceway.artifacts import ExampleStatistics
from sluiceway.components import CsvExampleGen, ExampleValidator, SchemaGen, ServingStatsGen, StatisticsGen
from sluiceway.data.statistics import load_statistics
from sluiceway.data.validation import Anomalies
from sluiceway.errors import DefinitionError

NOW = datetime.now(timezone.utc)


def validate(tmp_path, logs, model: str, **serving_args):  # noqa: ANN001, ANN201
    tmp_path.mkdir()
    csv = mf.write_csv(tmp_path / "train.csv", mf.draw(8000, seed=1))
    gen = CsvExampleGen(input_pattern=str(csv))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="label")
    serving = ServingStatsGen(log_dir=str(logs), model_name=model, **serving_args)
    validator = ExampleValidator(
        statistics=stats.statistics,
        schema=schema.schema,
        serving_statistics=serving.statistics,
        environment="TRAINING",
        fail_on_anomalies=False,
    )
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")
    run = runner.run(sw.Pipeline("skew", [gen, stats, schema, serving, validator]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    return run


def test_serving_statistics_feed_the_validators_skew_check(tmp_path) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "calm", NOW - timedelta(minutes=5), mf.draw(3000, seed=201))
    mf.write_log(logs, "shifted", NOW - timedelta(minutes=5), mf.draw(3000, seed=202, shift=0.8))
    mf.write_log(logs, "shifted", NOW - timedelta(days=3), mf.draw(3000, seed=203), seq=2)  # outside the window

    calm = validate(tmp_path / "calm", logs, "calm")
    output = calm.output("ServingStatsGen", "statistics")
    served = load_statistics(ExampleStatistics(output.uri).file)
    assert served.split_names == ["serving"]
    assert {f.name for f in served.datasets[0].features} == {"x", "amount", "color"}  # log columns dropped
    assert served.datasets[0].num_examples == 3000
    found = Anomalies.from_json(calm.output("ExampleValidator", "anomalies").uri)
    skew = [c for c in found.comparisons if c.kind == "skew" and c.feature != "label"]
    assert len(skew) == 3 and all(c.verdict == "passed" for c in skew), skew
    assert not found.anomalies

    shifted = validate(tmp_path / "shifted", logs, "shifted", window="1d")
    stats = load_statistics(ExampleStatistics(shifted.output("ServingStatsGen", "statistics").uri).file)
    assert stats.datasets[0].num_examples == 3000  # only the last day
    found = Anomalies.from_json(shifted.output("ExampleValidator", "anomalies").uri)
    assert {a.feature for a in found.anomalies if a.kind == "COMPARATOR_KS_DISTANCE_HIGH"} == {"x", "amount"}


def test_an_empty_log_fails_the_component_with_the_reason(tmp_path) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "m", NOW - timedelta(days=3), mf.draw(10, seed=301))
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")
    run = runner.run(sw.Pipeline("empty", [ServingStatsGen(log_dir=str(logs), model_name="m", window="1h")]))
    assert not run.succeeded
    error = run.executions["ServingStatsGen"].error or ""
    assert "found 0 logged rows of the model 'm'" in error and "Widen the range" in error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"model_name": "a/b"}, "'model_name' parameter of component 'ServingStatsGen' .* must match"),
        ({"model_name": "m", "window": "1h", "since": "2026-01-01"}, "got 'window' together with 'since'/'until'"),
        ({"model_name": "m", "window": "soon"}, "must be a duration"),
        ({"model_name": "m", "since": "2026-02-01", "until": "2026-01-01"}, "is empty: since must be before until"),
    ],
)
def test_bad_parameters_are_refused_when_the_component_is_built(tmp_path, args, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        ServingStatsGen(log_dir=str(tmp_path), **args)


def test_new_log_files_are_not_answered_from_the_cache(tmp_path) -> None:
    logs = tmp_path / "logs"
    mf.write_log(logs, "m", NOW - timedelta(minutes=5), mf.draw(100, seed=401), seq=1)
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")

    def rows_seen() -> tuple[str, int]:
        run = runner.run(sw.Pipeline("cache", [ServingStatsGen(log_dir=str(logs), model_name="m")]))
        assert run.succeeded
        uri = run.output("ServingStatsGen", "statistics").uri
        return run.executions["ServingStatsGen"].state, load_statistics(uri).datasets[0].num_examples

    assert rows_seen() == ("COMPLETE", 100)
    assert rows_seen() == ("CACHED", 100)
    mf.write_log(logs, "m", NOW - timedelta(minutes=1), mf.draw(50, seed=402), seq=2)
    assert rows_seen() == ("COMPLETE", 150)
