"""``sluiceway serve``: serve the models of a serving directory over HTTP. A thin layer over sluiceway.serving."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sluiceway.cli.common import err_console


def register(app: typer.Typer) -> None:
    app.command("serve", short_help="Serve pushed models (TF Serving REST and Open Inference Protocol v2).")(
        serve_command
    )


def serve_command(
    model_dir: Path = typer.Option(
        ..., "--model-dir", metavar="DIR", help="Serving directory: DIR/{model}/{version}/."
    ),
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Interface to listen on."),
    port: int = typer.Option(8500, "--port", metavar="PORT", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(1, "--workers", metavar="N", min=1, help="Worker processes."),
    token: str | None = typer.Option(
        None,
        "--token",
        metavar="TOKEN",
        help="Require 'Authorization: Bearer TOKEN' (not on health). Env: SLUICEWAY_SERVE_TOKEN.",
    ),
    log_dir: Path | None = typer.Option(None, "--log-dir", metavar="DIR", help="Log sampled requests to Parquet here."),
    log_rate: float = typer.Option(1.0, "--log-rate", metavar="RATE", help="Fraction of requests logged (0 to 1)."),
    log_flush_seconds: float = typer.Option(
        10.0, "--log-flush-seconds", metavar="SECONDS", help="How often the request log is written."
    ),
    max_body_bytes: int = typer.Option(
        16 * 1024 * 1024, "--max-body-bytes", metavar="BYTES", help="Largest request body accepted."
    ),
    max_batch: int = typer.Option(10_000, "--max-batch", metavar="N", help="Most instances in one request."),
    poll_seconds: float = typer.Option(
        1.0, "--poll-seconds", metavar="SECONDS", help="How often DIR is checked for new versions."
    ),
    runtime: str = typer.Option(
        "native", "--runtime", metavar="RUNTIME", help="native, onnx (the bundle's ONNX export) or auto."
    ),
) -> None:
    """Serve every model under DIR (latest version by default, older ones by path), reloading new versions."""
    from sluiceway.serving.config import TOKEN_ENV, ServerConfig
    from sluiceway.serving.server import check_serve_extra, run_server

    check_serve_extra()
    config = ServerConfig(
        model_dir=str(model_dir),
        token=token if token is not None else os.environ.get(TOKEN_ENV) or None,
        log_dir=str(log_dir) if log_dir is not None else None,
        log_rate=log_rate,
        log_flush_seconds=log_flush_seconds,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        poll_seconds=poll_seconds,
        runtime=runtime,
    )
    err_console.print(f"Serving the models under {model_dir} on http://{host}:{port} (Ctrl-C stops).")
    run_server(config, host=host, port=port, workers=workers)
