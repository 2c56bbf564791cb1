"""The OpenAPI description documents every outage operation, its errors, headers and filters."""

import pytest

from tests.api import schema_helpers
from tests.api.schema_helpers import (
    STEP_CODES,
    headers,
    parameter_names,
    reads_conditionally,
    writes_conditionally,
)

schema = schema_helpers.schema

STEPS = ("publish", "start", "estimate", "restore", "cancel")
OPERATIONS = {
    ("/api/v1/outages/", "get"): {"200", "400", "401", "414", "429"},
    ("/api/v1/outages/", "post"): {"200", "201", "400", "401", "403", "409", "422", "414", "429"},
    ("/api/v1/outages/{id}/", "get"): {"200", "304", "401", "404", "414", "429"},
    **{(f"/api/v1/outages/{{id}}/{name}/", "post"): STEP_CODES for name in STEPS},
}


def test_every_outage_operation_is_described(schema):
    described = {(path, method) for path, operations in schema["paths"].items() for method in operations}
    assert {op for op in described if op[0].startswith("/api/v1/outages/")} == set(OPERATIONS)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_documents_its_errors(schema, path, method):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == OPERATIONS[path, method]


def test_conditional_and_idempotent_requests_are_documented(schema):
    steps = {name: schema["paths"][f"/api/v1/outages/{{id}}/{name}/"]["post"] for name in STEPS}

    assert reads_conditionally(schema["paths"]["/api/v1/outages/{id}/"]["get"])
    assert [name for name, step in steps.items() if not writes_conditionally(step)] == []
    assert "Idempotency-Key" in headers(schema["paths"]["/api/v1/outages/"]["post"])


def test_the_list_documents_its_filters_and_cursor(schema):
    names = parameter_names(schema["paths"]["/api/v1/outages/"]["get"])

    assert {"cursor", "limit", "status", "kind", "external_id", "line", "district"} <= names
    assert {
        "planned_start_after",
        "planned_start_before",
        "actual_start_after",
        "actual_start_before",
    } <= names


def test_kind_and_status_have_enums_of_their_own(schema):
    components = schema["components"]["schemas"]

    assert components["OutageKindEnum"]["enum"] == ["planned", "fault", "temporary"]
    assert set(components["OutageStatusEnum"]["enum"]) == {
        "planned",
        "published",
        "ongoing",
        "restored",
        "cancelled",
    }
