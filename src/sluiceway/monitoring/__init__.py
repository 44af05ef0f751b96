"""Monitoring of served models: statistics of the server's request log, validated for skew and drift.

* ``logs``: reading the request log (``read_requests``, durations and times of the CLI options);
* ``reference``: the training statistics and schema of a served version, through the store's lineage;
* ``monitor``: ``monitor(...)`` → ``MonitorResult``, and the webhook alert.

``sluiceway monitor`` is the command line over these; ``ServingStatsGen`` the pipeline component.
"""

from __future__ import annotations

from sluiceway.monitoring.monitor import MonitorResult, Window, monitor, post_webhook, serving_statistics, windows

__all__ = ["MonitorResult", "Window", "monitor", "post_webhook", "serving_statistics", "windows"]
