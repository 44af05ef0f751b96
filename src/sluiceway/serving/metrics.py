"""Prometheus metrics of one server process, in a registry of its own (never the global default one).

``sluiceway_requests_total{model,version,protocol,code}``: every request, by status code (errors are the
4xx/5xx codes); ``sluiceway_request_seconds{model,version,protocol}``: latency histogram, from the first
byte read to the response written; ``sluiceway_predicted_rows_total{model,version}``;
``sluiceway_model_loads_total{model,outcome}``; ``sluiceway_model_version{model}``: the version served.
With ``--workers N`` each worker keeps its own figures (scrapes reach one worker at a time).
"""

from __future__ import annotations

from typing import Any

from sluiceway.errors import MissingExtraError

# Latency buckets from 100 µs to 10 s: a single-row predict is well under a millisecond.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServerMetrics:
    def __init__(self) -> None:
        try:
            import prometheus_client as prom
        except ImportError as exc:
            raise MissingExtraError("The model server's /metrics", "serve", "prometheus-client") from exc
        self._prom = prom
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self.requests = prom.Counter(
            "sluiceway_requests",
            "Requests by model, version, protocol and status code.",
            ["model", "version", "protocol", "code"],
            registry=self.registry,
        )
        self.latency = prom.Histogram(
            "sluiceway_request_seconds",
            "Request latency in seconds.",
            ["model", "version", "protocol"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.rows = prom.Counter(
            "sluiceway_predicted_rows", "Rows predicted.", ["model", "version"], registry=self.registry
        )
        self.loads = prom.Counter(
            "sluiceway_model_loads", "Model version loads by outcome.", ["model", "outcome"], registry=self.registry
        )
        self.served_version = prom.Gauge(
            "sluiceway_model_version", "The version each model serves by default.", ["model"], registry=self.registry
        )
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any, Any]] = {}

    def observe(self, model: str, version: str, protocol: str, code: int, seconds: float, rows: int) -> None:
        # Labelled children cached: .labels() costs more than the observation itself.
        key = (model, version, protocol, code)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(model, version, protocol, str(code)),
                self.latency.labels(model, version, protocol),
                self.rows.labels(model, version),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if rows:
            children[2].inc(rows)

    def model_loaded(self, name: str, version: int, ok: bool) -> None:
        self.loads.labels(name, "loaded" if ok else "failed").inc()
        if ok:
            self.served_version.labels(name).set(version)

    def exposition(self) -> tuple[bytes, str]:
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST
