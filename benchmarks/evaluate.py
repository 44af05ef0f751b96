#!/usr/bin/env python
"""Sliced evaluation of 1M predictions: Sluiceway's evaluator vs a pandas groupby + scikit-learn loop.

    .venv/bin/python benchmarks/evaluate.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/evaluate.py --rows 200000

Data (made once under ``.bench/evaluate/``): a binary classification table of ``--rows`` rows in Parquet
row groups of 131,072 rows — 4 numeric features, ``region`` (8 values), ``segment`` (20 values), a numeric
``amount``, a label — and a scikit-learn logistic regression saved as a Model bundle. Both sides predict
every row through ``sw.load_model(uri).predict_proba`` (the same model, the same path), then compute, for
the overall slice and 3 slice specs — ``region``, ``region × segment`` (160 slices), ``amount`` in 4
quantile buckets — accuracy, precision, recall, F1, AUC-ROC, AUC-PR (average precision) and log loss:

- sluiceway: ``evaluate_model`` (mergeable per-slice sums over the row groups on the in-process engine, AUC
  from 1,000-bin score histograms; no feature importance, no bootstrap);
- pandas + scikit-learn: ``pd.read_parquet`` of the split, one ``predict_proba`` call, ``pd.qcut`` for the
  buckets, then ``groupby`` and the scikit-learn metric functions per slice (exact AUC).

Each side runs in its own fresh process, which first loads the model once (imports and model load are
not timed: both sides pay them alike); time = wall time of reading, predicting and computing the metrics;
memory = the process's peak resident set (VmHWM) above its resident set after that warm-up, and the
whole process's peak. ``--repeats`` runs per side, median reported, and the two results are
compared slice by slice (largest accuracy and AUC differences). The machine may be shared: the load
average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / ".bench" / "evaluate"
FEATURES = ["f1", "f2", "f3", "f4"]
SPECS = [("region",), ("region", "segment"), ("amount",)]
ROW_GROUP = 131_072


def make_data(rows: int) -> tuple[Path, Path]:
    """The examples folder and the model bundle for ``rows`` rows (made once, reused)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression

    from sluiceway.trainer.bundle import write_bundle

    folder = DATA_DIR / f"rows-{rows}"
    examples, model = folder / "examples", folder / "model"
    split = examples / "Split-eval" / "part-00000.parquet"
    if split.is_file() and (model / "bundle.json").is_file():
        return examples, model
    rng = np.random.default_rng(11)
    region = rng.integers(0, 8, rows)
    segment = rng.integers(0, 20, rows)
    X = rng.normal(size=(rows, 4)) + region[:, None] * 0.05
    amount = rng.lognormal(4, 1, rows)
    logit = X @ np.array([1.2, -0.8, 0.5, 0.0]) + 0.1 * np.log(amount) - 0.4
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    table = pa.table({
        **{name: X[:, i] for i, name in enumerate(FEATURES)},
        "region": pa.array([f"r{v}" for v in region]),
        "segment": pa.array([f"s{v:02d}" for v in segment]),
        "amount": amount,
        "label": label,
    })
    split.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, split, row_group_size=ROW_GROUP)
    sample = slice(0, min(rows, 50_000))
    estimator = LogisticRegression().fit(X[sample], label[sample])
    write_bundle(model, flavor_name="sklearn", model=estimator, example=X[:2], features=FEATURES, label="label",
                 transform_graph=None, serving_inputs=[{"name": f, "type": "float"} for f in FEATURES],
                 options={"classes": [0, 1]}, onnx=False, metrics={}, metric_history={}, hyperparameters={})
    return examples, model


def memory_mb(field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident set, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm(model: Path) -> float:
    """Load the model once before timing (skops imports scikit-learn's whole estimator list: seconds that
    both sides would pay alike); returns the resident set then, the baseline of the memory figures."""
    import sluiceway as sw

    sw.load_model(str(model))
    try:  # reset the peak to the current resident set (Linux >= 4.0), so the import's transient peak is left out
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # elsewhere the peak includes the imports: the figure is then an upper bound
        pass
    return memory_mb("VmRSS")


def run_sluiceway(examples: Path, model: Path) -> dict:
    import sluiceway as sw
    from sluiceway.evaluation import EvalConfig
    from sluiceway.evaluation.compute import evaluate_model

    config = EvalConfig(label="label", slices=[(), *SPECS], feature_importance=False,
                        metrics=["accuracy", "precision", "recall", "f1", "auc", "auc_pr", "log_loss"])
    artifact = sw.Examples(str(examples), {"split_names": ["eval"]})
    base = warm(model)
    started = time.perf_counter()
    result = evaluate_model(str(model), artifact, config)
    seconds = time.perf_counter() - started
    slices = {s["name"]: {"count": s["count"], "auc_error_bound": s["auc_error_bound"], **s["metrics"]}
              for s in result["candidate"]["slices"]}
    return {"seconds": seconds, "base_mb": base, "peak_mb": memory_mb(), "slices": slices}


def run_pandas(examples: Path, model: Path) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn import metrics

    import sluiceway as sw

    base = warm(model)
    started = time.perf_counter()
    frame = pd.read_parquet(examples / "Split-eval")
    loaded = sw.load_model(str(model))
    frame["score"] = loaded.predict_proba(frame.drop(columns=["label"]))[:, 1]
    frame["predicted"] = (frame["score"] >= 0.5).astype(np.int64)
    frame["amount_bucket"] = pd.qcut(frame["amount"], 4).astype(str)

    def measure(part: pd.DataFrame) -> dict:
        y, p, s = part["label"], part["predicted"], part["score"]
        both = y.nunique() == 2
        return {
            "count": float(len(part)),
            "accuracy": metrics.accuracy_score(y, p),
            "precision": metrics.precision_score(y, p, zero_division=0),
            "recall": metrics.recall_score(y, p, zero_division=0),
            "f1": metrics.f1_score(y, p, zero_division=0),
            "auc": metrics.roc_auc_score(y, s) if both else None,
            "auc_pr": metrics.average_precision_score(y, s) if both else None,
            "log_loss": metrics.log_loss(y, s, labels=[0, 1]),
        }

    slices = {"Overall": measure(frame)}
    for spec in SPECS:
        columns = ["amount_bucket" if c == "amount" else c for c in spec]
        for key, part in frame.groupby(columns, observed=True):
            values = key if isinstance(key, tuple) else (key,)
            name = ", ".join(f"{c}={v}" for c, v in zip(spec, values, strict=True))
            slices[name] = measure(part)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "base_mb": base, "peak_mb": memory_mb(), "slices": slices}


def child(side: str, examples: str, model: str) -> None:
    runner = run_sluiceway if side == "sluiceway" else run_pandas
    print(json.dumps(runner(Path(examples), Path(model))))


def in_fresh_process(side: str, examples: Path, model: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", side, str(examples), str(model)],
        capture_output=True, text=True, env=env, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(ours: dict, theirs: dict) -> dict:
    """Largest differences over the slices both name the same way (the bucketed ones are cut differently)."""
    common = sorted(set(ours) & set(theirs))
    worst = {"accuracy": 0.0, "auc": 0.0, "log_loss": 0.0}
    for name in common:
        for metric in worst:
            a, b = ours[name].get(metric), theirs[name].get(metric)
            if a is not None and b is not None:
                worst[metric] = max(worst[metric], abs(a - b))
    bound = max((s["auc_error_bound"] or 0.0) for s in ours.values())
    return {"common_slices": len(common), "slices": (len(ours), len(theirs)), "max_diff": worst, "bound": bound}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "EXAMPLES", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(HERE.parent / "src"))
    examples, model = make_data(args.rows)
    load_before = os.getloadavg()[0]
    results: dict[str, list[dict]] = {"sluiceway": [], "pandas + scikit-learn": []}
    for _ in range(args.repeats):
        results["sluiceway"].append(in_fresh_process("sluiceway", examples, model))
        results["pandas + scikit-learn"].append(in_fresh_process("pandas", examples, model))
    load_after = os.getloadavg()[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"### {stamp}\n")
    print(f"Measured with `python benchmarks/evaluate.py --rows {args.rows} --repeats {args.repeats}` on "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load average (1 min) {load_before:.2f} "
          f"before, {load_after:.2f} after; median of {args.repeats} fresh processes per figure.\n")
    print("| evaluator | slices | time (read + predict + metrics) | peak memory above the loaded model | "
          "process peak |")
    print("|---|---|---|---|---|")
    for side, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        added = statistics.median(r["peak_mb"] - r["base_mb"] for r in runs)
        peak = statistics.median(r["peak_mb"] for r in runs)
        print(f"| {side} | {len(runs[0]['slices'])} | {seconds:.2f} s | {added:,.0f} MB | {peak:,.0f} MB |")
    check = compare(results["sluiceway"][0]["slices"], results["pandas + scikit-learn"][0]["slices"])
    print(f"\nAgreement on the {check['common_slices']} slices named alike (the amount buckets are cut at KLL "
          f"quantiles by one side and by pd.qcut by the other): largest difference in accuracy "
          f"{check['max_diff']['accuracy']:.2g}, AUC {check['max_diff']['auc']:.2g} (histogram vs exact; the largest "
          f"auc_error_bound reported is {check['bound']:.2g}), log loss {check['max_diff']['log_loss']:.2g}.")


if __name__ == "__main__":
    main()
