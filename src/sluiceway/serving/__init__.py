"""The model server (``sluiceway serve``): TensorFlow Serving REST and Open Inference Protocol v2 over the
models of a serving directory, with hot reload, request validation, Prometheus metrics and sampled request
logging to Parquet.

- ``config``: ``ServerConfig``, the settings;
- ``repository``: the served models and hot reload (the serving directory contract);
- ``inputs``: request rows checked against the model's signature, and the predict call;
- ``v2``: the Open Inference Protocol's tensors and binary extension; ``explain``: tree contributions;
- ``app``: the raw ASGI application and its routes; ``openapi``: its description;
- ``metrics``: Prometheus; ``request_log``: the Parquet request log (its format is documented there);
- ``server``: ``run_server``, uvicorn.

Needs the ``serve`` extra: ``pip install 'sluiceway[serve]'``.
"""

from __future__ import annotations

from sluiceway.serving.config import ServerConfig

__all__ = ["ServerConfig"]
