"""InfraValidator: the real server on the candidate, canaries from real examples, figures in the blessing."""

from __future__ import annotations

import json
import shutil

import pytest
import serving_fixtures as sf

import sluiceway as sw
from sluiceway.artifacts import InfraBlessing, Model
from sluiceway.components import InfraValidator, Trainer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@sw.component
def tamper(model: sw.Input[Model], tampered: sw.Output[Model]) -> None:
    """A copy of the model whose model file changed after it was saved: the server must refuse it."""
    shutil.copytree(model.path, tampered.path, dirs_exist_ok=True)
    (tampered.path / "model" / "model.skops").write_bytes(b"not a model")


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> sw.Run:
    root = tmp_path_factory.mktemp("infra")
    components, transform, schema, gen = sf.fx.upstream()
    trainer = Trainer(
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        schema=schema.schema,
        run_fn=sf.fx.sklearn_run_fn,
        train_args={"probe": str(root / "probe")},
    )
    broken = tamper(model=trainer.model)
    checks = [
        InfraValidator(id="good", model=trainer.model, examples=gen.examples, num_requests=40, max_p99_ms=2000),
        InfraValidator(
            id="batched",
            model=trainer.model,
            examples=gen.examples,
            num_requests=10,
            batch_size=25,
            max_p99_ms=2000,
            runtime="auto",
        ),
        InfraValidator(id="strict", model=trainer.model, examples=gen.examples, num_requests=20, max_p99_ms=0.001),
        InfraValidator(id="broken", model=broken.tampered, examples=gen.examples, num_requests=5),
    ]
    runner = sw.LocalRunner(store=f"sqlite:///{root / 'md.db'}", artifact_root=root / "artifacts", parallelism=2)
    run = runner.run(sw.Pipeline("infra", [*components, trainer, broken, *checks]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    return run


def _report(run: sw.Run, component: str) -> tuple[InfraBlessing, dict]:
    blessing = run.output(component, "blessing")
    return blessing, json.loads(blessing.file.read_text())


def test_a_good_model_is_blessed_with_its_measured_figures(validated: sw.Run) -> None:
    blessing, report = _report(validated, "good")
    assert blessing.properties["blessed"] is True
    assert (blessing.path / InfraBlessing.BLESSED_MARKER).is_file() and not (
        blessing.path / InfraBlessing.NOT_BLESSED_MARKER
    ).exists()
    assert report["blessed"] is True and report["reasons"] == []
    assert report["requests"] == 40 and report["failed_requests"] == 0
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert report["load_seconds"] > 0


def test_batched_canaries_are_checked_too(validated: sw.Run) -> None:
    blessing, report = _report(validated, "batched")
    assert blessing.properties["blessed"] is True, report
    assert report["batch_size"] == 25 and report["runtime"] == "auto"


def test_a_slow_p99_is_not_blessed_and_says_so(validated: sw.Run) -> None:
    blessing, report = _report(validated, "strict")
    assert blessing.properties["blessed"] is False
    assert (blessing.path / InfraBlessing.NOT_BLESSED_MARKER).is_file()
    assert len(report["reasons"]) == 1 and "is above max_p99_ms=0.001" in report["reasons"][0]
    assert report["failed_requests"] == 0


def test_a_model_that_cannot_load_is_not_blessed_with_the_server_error(validated: sw.Run) -> None:
    blessing, report = _report(validated, "broken")
    assert blessing.properties["blessed"] is False
    (reason,) = report["reasons"]
    assert reason.startswith("the model server could not load the model: ")
    assert "was modified after the model was saved" in reason
    assert report["requests"] == 0 and "latency_ms" not in report


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"num_requests": 0}, "num_requests"),
        ({"max_p99_ms": -1}, "max_p99_ms"),
        ({"runtime": "gpu"}, r"The 'runtime' parameter of .* must be one of \['native', 'onnx', 'auto'\]. Got 'gpu'"),
    ],
)
def test_parameters_are_checked_when_the_pipeline_is_built(parameters: dict, message: str) -> None:
    _, transform, _, gen = sf.fx.upstream()
    trainer = Trainer(examples=transform.transformed_examples, run_fn=sf.fx.sklearn_run_fn)
    with pytest.raises(sw.DefinitionError, match=message):
        InfraValidator(model=trainer.model, examples=gen.examples, **parameters)
