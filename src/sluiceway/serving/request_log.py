"""Sampled request logging to Parquet: what the model saw and said, for monitoring (skew and drift).

Layout, one folder per model::

    {log_dir}/{model}/{YYYY-MM-DD}/requests-{HHMMSS}-{pid}-{seq}.parquet

One row per instance of a sampled request, columns:

- ``time`` (timestamp[us, UTC]): when the server received the request;
- ``request_id`` (string): ``{pid}-{n}``, one per logged request (its instances share it);
- ``model_version`` (int64): the version that answered;
- one column per raw feature of the model's signature, typed by it (int64, float64, string, bool), null
  where the request sent null: the same columns as the training data, so statistics compare directly;
- ``prediction``: the predicted label (classifier: string or int64) or value (regressor: float64);
- ``probabilities`` (list<float64>, classifiers only): per class, in the order of the model's classes.

A file is written whole under a temporary name and renamed, so a reader never sees half a file. Rows wait
in memory and are written every ``log_flush_seconds``, at ``FLUSH_ROWS`` rows, and at shutdown. Requests are
sampled at ``log_rate`` with a seeded generator (all instances of a sampled request are logged).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sluiceway.serving.repository import ServedModel

log = logging.getLogger(__name__)

FLUSH_ROWS = 50_000
ARROW_TYPES = {"int": "int64", "float": "float64", "bool": "bool_", "string": "string"}


class RequestLog:
    def __init__(self, log_dir: str, rate: float, flush_seconds: float, seed: int = 0) -> None:
        self.root = Path(log_dir)
        self.rate = rate
        self.flush_seconds = flush_seconds
        self._sampler = random.Random(seed)
        self._pending: list[tuple[ServedModel, float, list[dict[str, Any]], dict[str, list[Any]]]] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sequence = 0
        self._requests = 0
        self._writer = threading.Thread(target=self._run, name="sluiceway-request-log", daemon=True)
        self._writer.start()

    def sampled(self) -> bool:
        return self.rate >= 1.0 or (self.rate > 0.0 and self._sampler.random() < self.rate)

    def add(
        self, served: ServedModel, received: float, rows: list[dict[str, Any]], results: dict[str, list[Any]]
    ) -> None:
        with self._lock:
            self._pending.append((served, received, rows, results))
            self._pending_rows += len(rows)
            if self._pending_rows >= FLUSH_ROWS:
                self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._writer.join(timeout=60)
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - logging must never take the server down; the next flush retries
                log.exception("Writing the request log under %s failed", self.root)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending, self._pending_rows = self._pending, [], 0
        groups: dict[tuple[str, int], list[Any]] = {}
        for entry in pending:
            groups.setdefault((entry[0].name, entry[0].version), []).append(entry)
        for entries in groups.values():
            self._write(entries)

    def _write(self, entries: list[tuple[ServedModel, float, list[dict[str, Any]], dict[str, list[Any]]]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        served = entries[0][0]
        times: list[int] = []
        ids: list[str] = []
        features: dict[str, list[Any]] = {name: [] for name, _ in served.inputs}
        predictions: list[Any] = []
        probabilities: list[Any] = []
        for _, received, rows, results in entries:
            self._requests += 1  # ids: process and count, unique per server run and reproducible
            request_id = f"{os.getpid()}-{self._requests}"
            micros = int(received * 1_000_000)
            times.extend([micros] * len(rows))
            ids.extend([request_id] * len(rows))
            for name in features:
                features[name].extend(row[name] for row in rows)
            predictions.extend(results.get("prediction") or results.get("label") or [None] * len(rows))
            if served.classes is not None:
                probabilities.extend(results.get("probabilities") or [None] * len(rows))
        columns: dict[str, pa.Array] = {
            "time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "request_id": pa.array(ids, pa.string()),
            "model_version": pa.array([served.version] * len(times), pa.int64()),
        }
        for name, kind in served.inputs:
            columns[name] = pa.array(features[name], getattr(pa, ARROW_TYPES.get(kind, "string"))())
        label_type = {"string": pa.string(), "int": pa.int64()}.get(served.label_type, pa.float64())
        columns["prediction"] = pa.array(predictions, label_type)
        if served.classes is not None:
            columns["probabilities"] = pa.array(probabilities, pa.list_(pa.float64()))
        table = pa.table(columns)
        stamp = datetime.fromtimestamp(entries[0][1], tz=timezone.utc)
        folder = self.root / served.name / stamp.strftime("%Y-%m-%d")
        folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        name = f"requests-{stamp.strftime('%H%M%S')}-{os.getpid()}-{self._sequence:06d}.parquet"
        temporary = folder / f".{name}.tmp"
        pq.write_table(table, temporary)
        os.replace(temporary, folder / name)
