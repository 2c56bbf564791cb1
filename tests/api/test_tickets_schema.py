"""The OpenAPI description documents every work-order operation, its errors and its headers."""

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

STEPS = (
    "accept",
    "start",
    "send-back",
    "transfer",
    "urge",
    "resolve",
    "return-visit",
    "reopen",
    "archive",
    "dispatch",
    "reassign",
)
OPERATIONS = {
    ("/api/v1/tickets/", "get"): {"200", "400", "401", "414", "429"},
    ("/api/v1/tickets/", "post"): {"200", "201", "400", "401", "409", "422", "414", "429"},
    ("/api/v1/tickets/{number}/", "get"): {"200", "304", "401", "404", "414", "429"},
    ("/api/v1/tickets/{number}/", "patch"): STEP_CODES,
    **{(f"/api/v1/tickets/{{number}}/{name}/", "post"): STEP_CODES for name in STEPS},
}


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_documents_its_errors(schema, path, method):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == OPERATIONS[path, method]


def test_conditional_and_idempotent_requests_are_documented(schema):
    detail = schema["paths"]["/api/v1/tickets/{number}/"]
    steps = {name: schema["paths"][f"/api/v1/tickets/{{number}}/{name}/"]["post"] for name in STEPS}

    assert reads_conditionally(detail["get"])
    assert writes_conditionally(detail["patch"])
    assert [name for name, step in steps.items() if not writes_conditionally(step)] == []
    assert "Idempotency-Key" in headers(schema["paths"]["/api/v1/tickets/"]["post"])


def test_the_list_documents_its_filters_and_cursor(schema):
    names = parameter_names(schema["paths"]["/api/v1/tickets/"]["get"])

    assert {"cursor", "limit", "q", "status", "kind", "category", "urgency", "source", "org_unit"} <= names
    assert {
        "assignee",
        "overdue",
        "near_deadline",
        "repeat",
        "customer",
        "created_after",
        "updated_after",
    } <= names
