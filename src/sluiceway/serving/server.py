"""Starting the server: uvicorn with httptools and uvloop, one or several worker processes."""

from __future__ import annotations

import os

from sluiceway.errors import require
from sluiceway.serving.config import CONFIG_ENV, ServerConfig

FEATURE = "The model server (sluiceway serve)"


def check_serve_extra() -> None:
    """Every package the server needs, or ``MissingExtraError`` naming the ``serve`` extra."""
    for module in ("uvicorn", "httptools", "uvloop", "orjson", "prometheus_client"):
        require(module, feature=FEATURE, extra="serve")


def run_server(config: ServerConfig, *, host: str = "127.0.0.1", port: int = 8500, workers: int = 1) -> None:
    """Serve until interrupted (SIGINT/SIGTERM: in-flight requests finish, the request log is flushed)."""
    check_serve_extra()
    import uvicorn

    from sluiceway.serving.app import ModelServer

    options = dict(
        host=host,
        port=port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=30,
    )
    if workers == 1:
        uvicorn.run(ModelServer(config), **options)  # type: ignore[arg-type]
        return
    # Worker processes start from an import string and read the settings from their environment. This is the
    # CLI's own process (the application), so setting its environment for its children is its call.
    os.environ[CONFIG_ENV] = config.to_json()
    uvicorn.run("sluiceway.serving.app:app_from_environment", factory=True, workers=workers, **options)  # type: ignore[arg-type]
