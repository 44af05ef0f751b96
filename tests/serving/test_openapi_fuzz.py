"""Schemathesis fuzzes every operation of the server's OpenAPI description against a real server: no 5xx."""

from __future__ import annotations

import pytest
import serving_fixtures as sf

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from sluiceway.serving.openapi import openapi_spec  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _spec() -> dict:
    """The spec the server serves, with the model name pinned to a served model so operations get past 404."""
    spec = openapi_spec(token=False)
    for path in spec["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "name":
                    parameter["schema"] = {"type": "string", "enum": ["penguin", "penguin-lgb", "nope"]}
    return spec


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_from_the_spec_gets_a_server_error(case, server: sf.ServerProcess) -> None:
    response = case.call(base_url=server.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
