"""The OpenAPI 3.1 description of the server's routes (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

ERROR = {
    "description": "Refused: the message says why",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
        }
    },
}
NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
}
VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
ANY_JSON = {"application/json": {"schema": {"type": "object"}}}
SCALAR = {"type": ["string", "number", "integer", "boolean", "null"]}
PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "instances": {"type": "array", "items": {"type": "object", "additionalProperties": SCALAR}},
                    "inputs": {"type": "object", "additionalProperties": {"type": "array", "items": SCALAR}},
                },
            }
        }
    },
}
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string"},
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}
INFER_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "id": {"type": "string"},
                    "inputs": {"type": "array", "items": TENSOR},
                    "outputs": {
                        "type": "array",
                        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                    },
                    "parameters": {"type": "object"},
                },
            }
        }
    },
}


def _operation(
    summary: str, params: list[dict[str, Any]], body: dict[str, Any] | None = None, codes: tuple[int, ...] = (400, 404)
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": ANY_JSON}, **{str(c): ERROR for c in codes}},
    }
    if body is not None:
        operation["requestBody"] = body
    return operation


def openapi_spec(*, token: bool) -> dict[str, Any]:
    import sluiceway

    paths: dict[str, Any] = {}
    for prefix, params in (("/models/{name}", [NAME]), ("/models/{name}/versions/{version}", [NAME, VERSION])):
        paths[f"/v1{prefix}:predict"] = {
            "post": _operation("TF Serving predict", params, PREDICT_BODY, (400, 404, 413, 503))
        }
        paths[f"/v1{prefix}:explain"] = {
            "post": _operation("Per-feature contributions (tree models)", params, PREDICT_BODY, (400, 404, 413, 503))
        }
        paths[f"/v1{prefix}"] = {"get": _operation("TF Serving model status", params)}
        paths[f"/v1{prefix}/metadata"] = {"get": _operation("TF Serving model signature", params, None, (404, 503))}
        paths[f"/v2{prefix}"] = {"get": _operation("OIP model metadata", params, None, (404, 503))}
        paths[f"/v2{prefix}/ready"] = {"get": _operation("OIP model readiness", params, None, (404, 503))}
        paths[f"/v2{prefix}/infer"] = {"post": _operation("OIP inference", params, INFER_BODY, (400, 404, 413, 503))}
    paths["/v2/health/live"] = {"get": _operation("Liveness", [], None, ())}
    paths["/v2/health/ready"] = {"get": _operation("Readiness", [], None, (503,))}
    paths["/v2"] = {"get": _operation("Server metadata", [], None, ())}
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "OK"}}}}
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Sluiceway model server", "version": sluiceway.__version__},
        "paths": paths,
    }
    if token:
        spec["components"] = {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}}
        spec["security"] = [{"token": []}]
        for health in ("/v2/health/live", "/v2/health/ready"):
            paths[health]["get"]["security"] = []
    return spec
