#!/usr/bin/env python
"""Predict latency of ``sw.load_model(uri).predict`` (raw rows → fitted transform → model), native vs ONNX.

    .venv/bin/python benchmarks/predict.py                  # penguin and taxi models
    .venv/bin/python benchmarks/predict.py --models penguin --repeats 200

Each model is trained once by a real pipeline (Transform + the standard Trainer with ``onnx=True``) in a
scratch folder, then loaded twice: ``runtime="native"`` (the library's model: scikit-learn from its skops
file) and ``runtime="onnx"`` (onnxruntime, one thread). Measured per call, after warm-up, median (and 95th
percentile) over ``--repeats`` calls:
  1 row (dict)  what a server receives per request: the small-input path (no DataFrame on the model side)
  transform     of which the fitted transform (``FittedTransform.transform``, the Transform area's)
  model side    of which the rest: the NumPy feature matrix from the transformed dict, and the model call
  1-row frame   the same row as a 1-row Polars DataFrame (the column-wise path every frame takes)
  1,000 rows    a pandas DataFrame of 1,000 raw rows (a batch scoring call)
Models: penguin (examples/penguin: its preprocessing_fn and run_fn, 8 features, 3-class logistic
regression); taxi (benchmarks/taxi_data.py, 100,000 rows, tips regressed on 11 transformed features with
ridge regression). The machine may be shared: every figure is printed with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples" / "penguin"))

TAXI_ROWS = 100_000


def taxi_preprocessing_fn(inputs):  # noqa: ANN001, ANN201 - the inputs dict of column placeholders
    import sluiceway.transform as T

    outputs = {
        f"{name}_z": T.scale_to_z_score(T.fill_missing(inputs[name], T.mean(inputs[name])))
        for name in ("fare", "trip_miles", "trip_seconds")
    }
    for name in ("pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude"):
        outputs[f"{name}_bucket"] = T.bucketize(T.fill_missing(inputs[name], T.mean(inputs[name])), num_buckets=10)
    outputs["company_id"] = T.compute_and_apply_vocabulary(inputs["company"], top_k=50, num_oov_buckets=1)
    outputs["payment_id"] = T.compute_and_apply_vocabulary(inputs["payment_type"], num_oov_buckets=1)
    outputs["hour"] = inputs["trip_start_hour"]
    outputs["weekday"] = inputs["trip_start_day"]
    outputs["tips"] = T.fill_missing(inputs["tips"], 0.0)  # the label (absent at serving, see the schema)
    return outputs


def taxi_run_fn(ctx):  # noqa: ANN001, ANN201 - the TrainerContext
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    X, y = ctx.train.numpy()
    model = make_pipeline(SimpleImputer(strategy="median"), Ridge(alpha=1.0)).fit(X, y)
    ctx.log_metric("eval_r2", model.score(*ctx.eval.numpy()))
    ctx.save_model(model)


def train(name: str, folder: Path) -> tuple[str, object]:
    """Train the model ``name`` in ``folder``; its Model URI and a frame of raw rows to predict on."""
    import pyarrow.parquet as pq

    import sluiceway as sw
    from sluiceway.components import (
        CsvExampleGen,
        ParquetExampleGen,
        SchemaGen,
        StatisticsGen,
        Trainer,
        Transform,
    )

    if name == "penguin":
        import features
        import model
        from pipeline import penguins_csv

        gen = CsvExampleGen(input_pattern=penguins_csv())
        label, preprocessing_fn, run_fn = "species", features.preprocessing_fn, model.run_fn
    else:
        from taxi_data import taxi_files

        _, parquet = taxi_files(TAXI_ROWS)
        gen = ParquetExampleGen(input_pattern=str(parquet))
        label, preprocessing_fn, run_fn = "tips", taxi_preprocessing_fn, taxi_run_fn
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label=label)
    transform = Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=preprocessing_fn)
    trainer = Trainer(
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        schema=schema.schema,
        run_fn=run_fn,
        onnx=True,
    )
    runner = sw.LocalRunner(store=f"sqlite:///{folder / 'md.db'}", artifact_root=folder / "artifacts")
    run = runner.run(sw.Pipeline(f"bench-predict-{name}", [gen, stats, schema, transform, trainer]))
    if not run.succeeded:
        raise SystemExit(f"training the {name} model failed: {[e.error for e in run.executions.values() if e.error]}")
    files = run.output(gen.id, "examples").split_files("eval")
    raw = pq.ParquetDataset([str(f) for f in files]).read().to_pandas().drop(columns=[label])
    return run.output("Trainer", "model").uri, raw


def timed(call, repeats: int) -> tuple[float, float]:  # noqa: ANN001 - a no-argument callable
    """Median and 95th percentile of ``repeats`` calls, in milliseconds, after 5 warm-up calls."""
    for _ in range(5):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["penguin", "taxi"], choices=["penguin", "taxi"])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    import numpy as np
    import polars as pl

    import sluiceway as sw

    from sluiceway.trainer.bundle import matrix_of_records

    print(f"load average at start: {os.getloadavg()}")
    print(
        "| model | runtime | 1 row (dict): median / p95 | transform | model side | 1-row frame | "
        "1,000 rows: median / p95 | predictions |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="sluiceway-bench-predict-") as scratch:
        for name in args.models:
            uri, raw = train(name, Path(scratch) / name)
            batch = raw.sample(n=1000, replace=True, random_state=0).reset_index(drop=True)
            row = {k: (None if v != v else v) for k, v in batch.iloc[0].to_dict().items()}  # NaN -> null
            reference = sw.load_model(uri).predict(batch)
            for runtime in ("native", "onnx"):
                model = sw.load_model(uri, runtime=runtime)
                one = timed(lambda model=model, row=row: model.predict(row), args.repeats)
                transform = timed(lambda model=model, row=row: model.transform.transform([row]), args.repeats)
                transformed = model.transform.transform([row])

                def model_side(model=model, transformed=transformed):  # noqa: ANN001, ANN202
                    return model.predict_features(matrix_of_records(transformed, model.features, where="bench"))

                side = timed(model_side, args.repeats)
                frame = pl.DataFrame([row])  # the same row through the column-wise (Polars) path
                one_frame = timed(lambda model=model, frame=frame: model.predict(frame), args.repeats)
                many = timed(lambda model=model, batch=batch: model.predict(batch), max(20, args.repeats // 10))
                predicted = model.predict(batch)
                assert model.predict(row).tolist() == model.predict(frame).tolist() == predicted[:1].tolist()
                if predicted.dtype.kind == "f":
                    same = f"max abs diff {float(np.max(np.abs(predicted - reference))):.2g}"
                else:
                    same = f"{float(np.mean(predicted == reference)):.1%} equal labels"
                print(
                    f"| {name} | {runtime} | {one[0]:.3f} / {one[1]:.3f} ms | {transform[0]:.3f} ms | "
                    f"{side[0] * 1000:.1f} µs | {one_frame[0]:.3f} ms | {many[0]:.2f} / {many[1]:.2f} ms | {same} |",
                    flush=True,
                )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
