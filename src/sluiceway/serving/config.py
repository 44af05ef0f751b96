"""The server's settings: one frozen value, built by the CLI (or a test), passed to every worker.

Multi-worker servers (``--workers N``) start each worker process from an import string, so the settings
travel to them as JSON in one environment variable of the child processes (``SLUICEWAY_SERVE_CONFIG``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sluiceway.errors import ConfigError

CONFIG_ENV = "SLUICEWAY_SERVE_CONFIG"
TOKEN_ENV = "SLUICEWAY_SERVE_TOKEN"
# The serving directory contract: {base}/{model_name}/{version}/, model names like this, versions all digits.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
RUNTIMES = ("native", "onnx", "auto")


@dataclass(frozen=True)
class ServerConfig:
    """What ``sluiceway serve`` serves and how.

    ``model_dir``: a Pusher destination, ``{model_dir}/{model}/{version}/`` (every model under it is served).
    ``token``: if set, every route but ``/v2/health/*`` needs ``Authorization: Bearer <token>``.
    ``log_dir`` / ``log_rate``: sampled request logging to Parquet (rate 0 to 1 of requests; off without a dir).
    ``max_body_bytes`` / ``max_batch``: the largest request body and the most instances in one request.
    ``poll_seconds``: how often the serving directory is checked for new versions (hot reload).
    ``runtime``: ``native`` (the model library), ``onnx`` (the bundle's ONNX export, required) or ``auto``
    (ONNX where the bundle has an export, else native).
    """

    model_dir: str
    token: str | None = None
    log_dir: str | None = None
    log_rate: float = 1.0
    log_flush_seconds: float = 10.0
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch: int = 10_000
    poll_seconds: float = 1.0
    runtime: str = "native"

    def __post_init__(self) -> None:
        checks = [
            ("log_rate", 0.0 <= self.log_rate <= 1.0, "a float in the range [0, 1]"),
            ("log_flush_seconds", self.log_flush_seconds > 0, "a positive number of seconds"),
            ("max_body_bytes", self.max_body_bytes >= 1024, "an int of at least 1024"),
            ("max_batch", self.max_batch >= 1, "an int of at least 1"),
            ("poll_seconds", self.poll_seconds > 0, "a positive number of seconds"),
            ("runtime", self.runtime in RUNTIMES, f"one of {list(RUNTIMES)}"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(
                    f"The '{name}' setting of the model server must be {expected}. Got {getattr(self, name)!r} instead."
                )
        if self.token is not None and not self.token.strip():
            raise ConfigError("The model server's token is empty; give a non-empty --token, or none.")
        if not Path(self.model_dir).is_dir():
            raise ConfigError(
                f"The model directory {self.model_dir} does not exist or is not a directory. Give a Pusher "
                "destination: a folder holding {model_name}/{version}/ model bundles."
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        return cls(**json.loads(text))

    @classmethod
    def from_environment(cls) -> ServerConfig:
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise ConfigError(f"{CONFIG_ENV} is not set: start the server with `sluiceway serve`.")
        return cls.from_json(text)
