"""Fuzz the API against its own OpenAPI schema with schemathesis: no unexpected 5xx, responses conform.

The server runs with record faults that keep records schema-conformant (duplicates, late,
orphans, x100, future, collapse) so those code paths are fuzzed too. The `fault_*` query parameters
that intentionally break responses (HTTP 500/429, hangs, truncation, slow pages) or records
(invalid records, schema drift) are removed from the schema before fuzzing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from drp_generator.api import create_app
from drp_generator.config import GeneratorConfig
from drp_generator.faults import FaultConfig
from tests.drp_generator.served import API_KEY, Served, serve

pytestmark = [pytest.mark.integration, pytest.mark.isolated]

BREAKING_PARAMS = {
    "fault_http500", "fault_http429", "fault_hang", "fault_hang_seconds", "fault_truncate", "fault_slow",
    "fault_slow_seconds", "fault_invalid", "fault_drift_from", "fault_drift",
}  # fmt: skip
FUZZ_CONFIG = GeneratorConfig(
    seed=11,
    orders_per_day=40,
    api_key=API_KEY,
    epoch=date(2026, 1, 1),
    faults=FaultConfig(dupes=0.05, late=0.05, orphans=0.05, x100=0.05, future=0.05, collapse=0.1),
)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[Served]:
    with serve(FUZZ_CONFIG) as served:
        yield served


def _strip_breaking_faults(spec: dict[str, Any]) -> dict[str, Any]:
    for item in spec["paths"].values():
        for operation in item.values():
            params = operation.get("parameters", [])
            operation["parameters"] = [p for p in params if p["name"] not in BREAKING_PARAMS]
    return spec


# The schema is the app's own OpenAPI document (built without a server); requests go over real HTTP
# to the uvicorn server below. (`schemathesis.pytest.from_fixture` breaks on pytest 9: it sets
# `node._nodeid`, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_dict(_strip_breaking_faults(create_app(FUZZ_CONFIG).openapi()))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, fuzz_server: Served) -> None:
    case.call_and_validate(
        base_url=fuzz_server.url,
        headers={"X-API-Key": API_KEY},
        timeout=20,
        # Cross-parameter rules (end after start, window length, an authentic cursor) cannot be
        # written in OpenAPI, so schema-valid requests may rightly get 422.
        excluded_checks=[positive_data_acceptance],
    )
