"""The OpenAPI description documents every work-order operation, its errors and its headers."""

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

STEP_CODES = {"200", "400", "401", "403", "404", "409", "412", "429"}
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
)
OPERATIONS = {
    ("/api/v1/tickets/", "get"): {"200", "400", "401", "429"},
    ("/api/v1/tickets/", "post"): {"200", "201", "400", "401", "409", "422", "429"},
    ("/api/v1/tickets/{number}/", "get"): {"200", "304", "401", "404", "429"},
    ("/api/v1/tickets/{number}/", "patch"): STEP_CODES,
    **{(f"/api/v1/tickets/{{number}}/{name}/", "post"): STEP_CODES for name in STEPS},
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid(schema):
    validate_schema(schema)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_documents_its_errors(schema, path, method):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == OPERATIONS[path, method]


def headers(operation: dict) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def test_conditional_and_idempotent_requests_are_documented(schema):
    detail = schema["paths"]["/api/v1/tickets/{number}/"]

    assert "If-None-Match" in headers(detail["get"])
    assert "ETag" in detail["get"]["responses"]["200"]["headers"]
    assert "If-Match" in headers(detail["patch"])
    for name in STEPS:
        operation = schema["paths"][f"/api/v1/tickets/{{number}}/{name}/"]["post"]
        assert "If-Match" in headers(operation)
        assert "ETag" in operation["responses"]["412"]["headers"]
    assert "Idempotency-Key" in headers(schema["paths"]["/api/v1/tickets/"]["post"])


def test_the_list_documents_its_filters_and_cursor(schema):
    names = {p["name"] for p in schema["paths"]["/api/v1/tickets/"]["get"]["parameters"]}

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
