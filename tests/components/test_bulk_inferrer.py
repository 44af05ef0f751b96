"""BulkInferrer: the model's predictions for every row, streamed, in input order, the same bytes each time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sluiceway as sw
from sluiceway.components import BulkInferrer

from push_pipelines import create_inference_pipeline, frame, trained


@sw.component
def grouped_examples(examples: sw.Output[sw.Examples], *, rows: int = 1000, group: int = 128) -> None:
    """Examples whose eval split has many row groups in two files (many fragments)."""
    table = pa.Table.from_pandas(frame(rows, seed=3), preserve_index=False)
    folder = examples.path / "Split-eval"
    folder.mkdir(parents=True)
    half = rows // 2
    pq.write_table(table.slice(0, half), folder / "part-00000.parquet", row_group_size=group)
    pq.write_table(table.slice(half), folder / "part-00001.parquet", row_group_size=group)
    examples.properties["split_names"] = ["eval"]


def _split(result: sw.Artifact, split: str) -> pa.Table:
    return pq.read_table(Path(result.uri) / f"Split-{split}")


def test_predictions_and_probabilities_match_the_model_on_the_raw_rows(runner: sw.LocalRunner) -> None:
    run = runner.run(create_inference_pipeline()).raise_for_status()
    result = run.output("BulkInferrer", "inference_result")
    examples = run.output("DataFrameExampleGen", "examples")
    model = sw.load_model(run.output("Trainer", "model"))
    assert result.properties["split_names"] == ["train", "eval"]
    assert result.properties["columns"] == ["id", "prediction", "probability_a", "probability_b", "probability_c"]
    for split in ("train", "eval"):
        raw = examples.read(split)
        got = _split(result, split)
        assert got.column_names == result.properties["columns"]
        assert result.properties["row_counts"][split] == raw.num_rows == got.num_rows
        assert got.column("id").to_pylist() == raw.column("id").to_pylist()  # keys carried, order kept
        assert got.column("prediction").to_pylist() == model.predict(raw).tolist()
        proba = np.column_stack([got.column(f"probability_{c}").to_numpy() for c in model.classes])
        assert np.array_equal(proba, model.predict_proba(raw))
    assert sorted(p.name for p in (Path(result.uri) / "Split-eval").iterdir()) == ["part-00000.parquet"]


def test_many_fragments_keep_the_input_order_and_give_the_same_bytes_every_time(runner: sw.LocalRunner) -> None:
    gen, trainer = trained()
    data = grouped_examples()
    first = BulkInferrer(model=trainer.model, examples=data.examples, batch_rows=50, id="first")
    second = BulkInferrer(model=trainer.model, examples=data.examples, batch_rows=50, id="second")
    run = runner.run(sw.Pipeline("groups", [gen, trainer, data, first, second])).raise_for_status()
    one, two = (Path(run.output(c, "inference_result").uri) / "Split-eval" for c in ("first", "second"))
    parts = sorted(p.name for p in one.iterdir())
    assert len(parts) == 8  # 4 row groups of 128 rows in each file (500 rows), one part per row group
    assert [(one / p).read_bytes() for p in parts] == [(two / p).read_bytes() for p in sorted(two.iterdir())]
    got = pq.read_table(one)
    assert got.column("id").to_pylist() == list(range(1000))  # every column carried by default, in order
    assert got.column_names[:5] == ["id", "x1", "x2", "color", "y"]
    model = sw.load_model(run.output("Trainer", "model"))
    assert got.column("prediction").to_pylist() == model.predict(frame(1000, seed=3)).tolist()


def test_only_the_chosen_splits_and_outputs_are_written(runner: sw.LocalRunner) -> None:
    gen, trainer = trained()
    inferrer = BulkInferrer(
        model=trainer.model,
        examples=gen.examples,
        splits=["eval"],
        key_columns=["id", "color"],
        output_columns=["prediction"],
    )
    run = runner.run(sw.Pipeline("some", [gen, trainer, inferrer])).raise_for_status()
    result = run.output("BulkInferrer", "inference_result")
    assert sorted(p.name for p in Path(result.uri).iterdir()) == ["Split-eval"]
    assert _split(result, "eval").column_names == ["id", "color", "prediction"]


def test_a_missing_key_column_fails_with_the_columns_there_are(runner: sw.LocalRunner) -> None:
    gen, trainer = trained()
    inferrer = BulkInferrer(model=trainer.model, examples=gen.examples, key_columns=["customer_id"])
    run = runner.run(sw.Pipeline("missing", [gen, trainer, inferrer]))
    assert run.state == "FAILED"
    with pytest.raises(sw.ComponentError, match=r"key column\(s\) \['customer_id'\] are not in split 'train'"):
        run.raise_for_status()
    assert runner.store.list_artifacts(type_name="InferenceResult") == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"output_columns": ["labels"]}, "'output_columns' parameter of .* among \\['prediction', 'probabilities'\\]"),
        ({"output_columns": []}, "'output_columns'"),
        ({"splits": []}, "'splits' parameter of .* non-empty list of distinct names"),
        ({"key_columns": ["id", "id"]}, "'key_columns'"),
        ({"batch_rows": 0}, "batch_rows"),
    ],
)
def test_bad_parameters_are_refused_when_the_pipeline_is_built(settings: dict, message: str) -> None:
    gen, trainer = trained()
    with pytest.raises(sw.DefinitionError, match=message):
        BulkInferrer(model=trainer.model, examples=gen.examples, **settings)


_MEASURE = """
import json, sys
import sluiceway as sw
from sluiceway.components.bulk_inferrer import infer_examples
def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
model, examples, out = sys.argv[1:4]
sw.load_model(model)  # libraries imported and the model loaded before the baseline
before = peak_kb()
result = sw.InferenceResult(out)
infer_examples(sw.Model(model), sw.Examples(examples), result, splits=["eval"])
print(json.dumps({"growth_kb": peak_kb() - before, "rows": result.properties["row_counts"]["eval"]}))
"""


def _write_rows(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True)
    chunk = 50_000
    with pq.ParquetWriter(
        folder / "part-00000.parquet", pa.Table.from_pandas(frame(10), preserve_index=False).schema
    ) as w:
        for start in range(0, rows, chunk):
            part = frame(chunk, seed=start)
            part["id"] += start
            w.write_table(pa.Table.from_pandas(part, preserve_index=False))


@pytest.mark.integration
def test_memory_does_not_grow_with_the_row_count(runner: sw.LocalRunner, tmp_path: Path) -> None:
    gen, trainer = trained()
    model = runner.run(sw.Pipeline("m", [gen, trainer])).raise_for_status().output("Trainer", "model")
    growth = {}
    for rows in (100_000, 1_000_000):
        examples = tmp_path / f"examples-{rows}"
        _write_rows(examples / "Split-eval", rows)
        measured = subprocess.run(
            [sys.executable, "-c", _MEASURE, model.uri, str(examples), str(tmp_path / f"out-{rows}")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert measured.returncode == 0, measured.stderr
        figures = json.loads(measured.stdout)
        assert figures["rows"] == rows
        growth[rows] = figures["growth_kb"]
    # ten times the rows: the peak grows by at most a third plus 32 MB (reading more than one batch per worker
    # at a time, or holding the predictions, would cost about ten times as much)
    assert growth[1_000_000] <= growth[100_000] * 4 / 3 + 32 * 1024, growth
