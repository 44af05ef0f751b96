"""The model server: a raw ASGI application (no framework on the request path), run by uvicorn.

Routes (``{v}``: a version number; without it, the latest loaded version):

| method | path | what |
|---|---|---|
| POST | ``/v1/models/{name}[/versions/{v}]:predict`` | TensorFlow Serving REST predict (``instances`` or ``inputs``) |
| POST | ``/v1/models/{name}[/versions/{v}]:explain`` | per-feature contributions of tree models (``explain``) |
| GET | ``/v1/models/{name}[/versions/{v}]`` | TF Serving model status (versions, state, load errors) |
| GET | ``/v1/models/{name}[/versions/{v}]/metadata`` | TF Serving signature |
| GET | ``/v2/health/live``, ``/v2/health/ready`` | Open Inference Protocol health (never need the token) |
| GET | ``/v2`` | server metadata (name, version, extensions) |
| GET | ``/v2/models/{name}[/versions/{v}]``, ``.../ready`` | OIP model metadata and readiness |
| POST | ``/v2/models/{name}[/versions/{v}]/infer`` | OIP inference, JSON or binary tensors |
| GET | ``/metrics`` | Prometheus |
| GET | ``/openapi.json`` | the OpenAPI 3.1 description of all of the above |

Every response is JSON (errors: ``{"error": "..."}``) but binary inference responses and ``/metrics``.
Predict responses carry the header ``Sluiceway-Model-Version``. A request's model is looked up once, so a
hot reload in the middle of it does not change the model that answers it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from sluiceway.serving import v2
from sluiceway.serving.config import ServerConfig
from sluiceway.serving.inputs import RequestError, checked_columns, checked_rows, predict
from sluiceway.serving.metrics import ServerMetrics
from sluiceway.serving.repository import ModelRepository, ServedModel

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
_VERSION = r"(?:/versions/(?P<version>[0-9]+))?"
_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
ROUTES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(rf"/v1/models/{_NAME}{_VERSION}:predict"), "POST", "v1_predict"),
    (re.compile(rf"/v1/models/{_NAME}{_VERSION}:explain"), "POST", "v1_explain"),
    (re.compile(rf"/v1/models/{_NAME}{_VERSION}/metadata"), "GET", "v1_metadata"),
    (re.compile(rf"/v1/models/{_NAME}{_VERSION}"), "GET", "v1_status"),
    (re.compile(rf"/v2/models/{_NAME}{_VERSION}/infer"), "POST", "v2_infer"),
    (re.compile(rf"/v2/models/{_NAME}{_VERSION}/ready"), "GET", "v2_model_ready"),
    (re.compile(rf"/v2/models/{_NAME}{_VERSION}"), "GET", "v2_model_metadata"),
    (re.compile(r"/v2/health/live"), "GET", "live"),
    (re.compile(r"/v2/health/ready"), "GET", "ready"),
    (re.compile(r"/v2"), "GET", "v2_server"),
    (re.compile(r"/metrics"), "GET", "prometheus"),
    (re.compile(r"/openapi\.json"), "GET", "openapi"),
]
OPEN_ROUTES = {"live", "ready"}  # reachable without the token: load balancers and orchestrators probe them


class Response:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or [(b"content-type", JSON)]


def json_response(status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(status, orjson.dumps(value), [(b"content-type", JSON), *(headers or [])])


def error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


class ModelServer:
    """The ASGI application. ``config`` says what to serve; models load at startup (the lifespan event)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.repository = ModelRepository(config)
        self.metrics = ServerMetrics()
        self.repository.on_load.append(self.metrics.model_loaded)
        self.request_log: Any = None
        self._token = config.token.encode() if config.token else None
        self._openapi: bytes | None = None

    # -- lifecycle
    def start(self) -> None:
        self.repository.refresh()
        self.repository.start_watching()
        if self.config.log_dir:
            from sluiceway.serving.request_log import RequestLog

            self.request_log = RequestLog(self.config.log_dir, self.config.log_rate, self.config.log_flush_seconds)

    def stop(self) -> None:
        self.repository.stop_watching()
        if self.request_log is not None:
            self.request_log.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self.start)
                except Exception as exc:  # noqa: BLE001 - reported to uvicorn, which stops with this message
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one request
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path = scope["path"]
        method = scope["method"]
        context: dict[str, Any] = {"model": "", "version": "", "protocol": "other", "rows": 0}
        try:
            response = await self._route(scope, receive, path, method, context)
        except RequestError as exc:
            response = error(exc.status, exc.message)
        except Exception:  # noqa: BLE001 - the one place a bug becomes a 500 (logged with its traceback)
            log.exception("Internal error serving %s %s", method, path)
            response = error(500, "Internal server error; the server log has the details.")
        headers = [*response.headers, (b"content-length", str(len(response.body)).encode())]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        if context["model"]:
            self.metrics.observe(
                context["model"],
                context["version"],
                context["protocol"],
                response.status,
                time.perf_counter() - started,
                context["rows"],
            )

    async def _route(self, scope: Scope, receive: Receive, path: str, method: str, context: dict[str, Any]) -> Response:
        for pattern, allowed, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if method != allowed:
                return error(405, f"{path} takes {allowed} requests, not {method}.")
            if handler not in OPEN_ROUTES and self._token is not None and not self._authorized(scope):
                return error(401, "Missing or wrong token: send the header 'Authorization: Bearer <token>'.")
            params = match.groupdict()
            if handler in ("v1_predict", "v1_explain", "v2_infer"):
                body = await self._body(scope, receive)
                return await getattr(self, handler)(scope, params, body, context)
            return await getattr(self, handler)(params)
        return error(404, f"No route {path}. See /openapi.json for the routes of this server.")

    def _authorized(self, scope: Scope) -> bool:
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, given = value.partition(b" ")
                expected = self._token or b""
                return scheme.lower() == b"bearer" and hmac.compare_digest(given, expected)
        return False

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.config.max_body_bytes
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > limit:
                raise RequestError(
                    413,
                    f"The request body has {int(value)} bytes; this server takes at most "
                    f"{limit} (--max-body-bytes). Split the batch.",
                )
            if key == b"content-encoding" and value.lower() not in (b"identity", b""):
                raise RequestError(
                    415, f"Content-Encoding {value.decode('latin-1')!r} is not supported; send the body uncompressed."
                )
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError(400, "The client disconnected before sending the whole body.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"The request body exceeds {limit} bytes (--max-body-bytes). Split the batch.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _served(self, params: dict[str, Any]) -> ServedModel:
        name = params["name"]
        state = self.repository.get(name)
        if state is None:
            known = self.repository.names()
            raise RequestError(404, f"Model {name!r} is not served here. Served models: {known}.")
        version = params.get("version")
        if version is None:
            if state.latest is None:
                raise RequestError(503, f"Model {name!r} has no version that loads: {_failures(state.failures)}")
            return state.latest
        number = int(version)
        served = state.pinned.get(number)
        if served is None:
            try:  # loads an older version on first use, off the event loop
                served = await asyncio.to_thread(self.repository.version, name, number)
            except Exception as exc:  # noqa: BLE001 - a bundle that does not load is the client's answer, not a 500
                problem = f"{type(exc).__name__}: {exc}"
                raise RequestError(503, f"Model {name!r} version {number} does not load: {problem}") from exc
        if served is None:
            raise RequestError(404, f"Model {name!r} has no version {number}. Versions: {self._versions(name)}.")
        return served

    def _versions(self, name: str) -> list[int]:
        from sluiceway.serving.repository import version_folders

        return sorted(version_folders(self.repository.base / name))

    # -- TensorFlow Serving REST
    async def v1_predict(self, scope: Scope, params: dict[str, Any], body: bytes, context: dict[str, Any]) -> Response:
        context["protocol"] = "v1"
        served = await self._served(params)
        context["model"], context["version"] = served.name, served.version_text
        request = _json_object(body)
        if "instances" in request:
            rows = checked_rows(served, request["instances"], self.config.max_batch)
            columnar = False
        elif "inputs" in request:
            rows = checked_columns(served, request["inputs"], self.config.max_batch)
            columnar = True
        else:
            raise RequestError(400, "The predict request needs 'instances' (a list of rows) or 'inputs' (columns).")
        received = time.time()
        results = predict(served, rows, served.output_names)
        context["rows"] = len(rows)
        self._log(served, received, rows, results)
        if served.classes is None:
            payload: Any = {"outputs" if columnar else "predictions": results["prediction"]}
        elif columnar:
            payload = {"outputs": results}
        else:
            payload = {
                "predictions": [
                    {"label": label, "probabilities": probabilities}
                    for label, probabilities in zip(results["label"], results["probabilities"], strict=True)
                ]
            }
        return json_response(200, payload, [(b"sluiceway-model-version", served.version_text.encode())])

    async def v1_explain(self, scope: Scope, params: dict[str, Any], body: bytes, context: dict[str, Any]) -> Response:
        from sluiceway.serving.explain import explain

        context["protocol"] = "v1-explain"
        served = await self._served(params)
        context["model"], context["version"] = served.name, served.version_text
        request = _json_object(body)
        if "instances" not in request:
            raise RequestError(400, "The explain request needs 'instances' (a list of rows).")
        rows = checked_rows(served, request["instances"], self.config.max_batch)
        explanations = explain(served, rows)
        context["rows"] = len(rows)
        headers = [(b"sluiceway-model-version", served.version_text.encode())]
        return json_response(200, {"explanations": explanations}, headers)

    async def v1_status(self, params: dict[str, Any]) -> Response:
        name = params["name"]
        state = self.repository.get(name)
        if state is None:
            raise RequestError(404, f"Model {name!r} is not served here. Served models: {self.repository.names()}.")
        statuses = []
        wanted = int(params["version"]) if params.get("version") else None
        if state.latest is not None:
            statuses.append(
                {
                    "version": state.latest.version_text,
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            )
        for version, message in sorted(state.failures.items(), reverse=True):
            statuses.append(
                {"version": str(version), "state": "END", "status": {"error_code": "UNKNOWN", "error_message": message}}
            )
        if wanted is not None:
            statuses = [s for s in statuses if s["version"] == str(wanted)]
            if not statuses:
                raise RequestError(
                    404,
                    f"Model {name!r} version {wanted} is not loaded (only the latest is, and "
                    "older versions once asked for by path).",
                )
        return json_response(200, {"model_version_status": statuses})

    async def v1_metadata(self, params: dict[str, Any]) -> Response:
        served = await self._served(params)
        inputs = {
            n: {"dtype": v2.datatype_of(k), "tensor_shape": {"dim": [{"size": "-1"}]}, "name": n}
            for n, k in served.inputs
        }
        outputs = {n: {"name": n} for n in served.output_names}
        signature = {"serving_default": {"inputs": inputs, "outputs": outputs, "method_name": "predict"}}
        return json_response(
            200,
            {
                "model_spec": {"name": served.name, "signature_name": "", "version": served.version_text},
                "metadata": {"signature_def": {"signature_def": signature}},
                "sluiceway": {
                    "flavor": served.model.flavor,
                    "task": served.task,
                    "classes": served.classes,
                    "signature": served.model.signature,
                    "runtime": served.model.runtime,
                },
            },
        )

    # -- Open Inference Protocol v2
    async def live(self, params: dict[str, Any]) -> Response:
        return json_response(200, {"live": True})

    async def ready(self, params: dict[str, Any]) -> Response:
        ready = self.repository.ready()
        return json_response(200 if ready else 503, {"ready": ready})

    async def v2_server(self, params: dict[str, Any]) -> Response:
        import sluiceway

        return json_response(
            200, {"name": "sluiceway", "version": sluiceway.__version__, "extensions": ["binary_tensor_data"]}
        )

    async def v2_model_metadata(self, params: dict[str, Any]) -> Response:
        served = await self._served(params)
        return json_response(200, v2.model_metadata(served, self._versions(served.name)))

    async def v2_model_ready(self, params: dict[str, Any]) -> Response:
        try:
            served = await self._served(params)
        except RequestError as exc:
            if exc.status == 404:
                raise
            return json_response(503, {"name": params["name"], "ready": False, "error": exc.message})
        return json_response(200, {"name": served.name, "ready": True})

    async def v2_infer(self, scope: Scope, params: dict[str, Any], body: bytes, context: dict[str, Any]) -> Response:
        context["protocol"] = "v2"
        served = await self._served(params)
        context["model"], context["version"] = served.name, served.version_text
        header = None
        for key, value in scope["headers"]:
            if key == b"inference-header-content-length":
                header = value.decode("latin-1")
        request, tail = v2.split_body(body, header)
        rows = v2.checked_infer_rows(served, request, tail, self.config.max_batch)
        names, binary = v2.requested_outputs(served, request)
        received = time.time()
        results = predict(served, rows, names)
        context["rows"] = len(rows)
        self._log(served, received, rows, results)
        payload, header_length = v2.infer_response(served, request, names, binary, results)
        headers = [(b"sluiceway-model-version", served.version_text.encode())]
        if header_length is None:
            return Response(200, payload, [(b"content-type", JSON), *headers])
        return Response(
            200,
            payload,
            [
                (b"content-type", b"application/octet-stream"),
                (b"inference-header-content-length", str(header_length).encode()),
                *headers,
            ],
        )

    # -- the rest
    async def prometheus(self, params: dict[str, Any]) -> Response:
        body, content_type = self.metrics.exposition()
        return Response(200, body, [(b"content-type", content_type.encode())])

    async def openapi(self, params: dict[str, Any]) -> Response:
        if self._openapi is None:
            from sluiceway.serving.openapi import openapi_spec

            self._openapi = orjson.dumps(openapi_spec(token=self._token is not None))
        return Response(200, self._openapi)

    def _log(self, served: ServedModel, received: float, rows: list[dict[str, Any]], results: dict[str, Any]) -> None:
        if self.request_log is not None and self.request_log.sampled():
            self.request_log.add(served, received, rows, results)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return value


def _failures(failures: dict[int, str]) -> str:
    return "; ".join(f"version {v}: {m}" for v, m in sorted(failures.items(), reverse=True)) or "none published"


def app_from_environment() -> ModelServer:
    """The application of one worker of a multi-worker server (uvicorn's factory; see ``ServerConfig``)."""
    return ModelServer(ServerConfig.from_environment())
