"""The OpenAPI description is valid and documents every endpoint, its errors and its headers."""

import pytest
from drf_spectacular.validation import validate_schema

from tests.api import schema_helpers
from tests.api.schema_helpers import headers, parameter_names, reads_conditionally, writes_conditionally

schema = schema_helpers.schema

OPERATIONS = {
    ("/api/v1/customers/", "get"): {"200", "400", "401", "414", "429"},
    ("/api/v1/customers/", "post"): {"201", "400", "401", "403", "409", "422", "414", "429"},
    ("/api/v1/customers/{number}/", "get"): {"200", "304", "401", "404", "414", "429"},
    ("/api/v1/customers/{number}/", "put"): {"200", "400", "401", "403", "404", "412", "414", "429"},
    ("/api/v1/customers/{number}/", "patch"): {"200", "400", "401", "403", "404", "412", "414", "429"},
    ("/api/v1/customers/{number}/", "delete"): {"204", "401", "403", "404", "412", "414", "429"},
    ("/api/v1/customers/sync/", "get"): {"200", "400", "401", "410", "414", "429"},
    ("/api/v1/customers/bulk/", "post"): {"200", "400", "401", "409", "422", "414", "429"},
}


def test_the_schema_is_valid_openapi_3(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_documents_its_errors(schema, path, method):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == OPERATIONS[path, method]


def test_every_operation_documents_the_web_servers_414(schema):
    """gunicorn refuses an over-long request line before the app: the schema says so, without a JSON body."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert "content" not in operation["responses"]["414"]
            assert "4,094 bytes" in operation["responses"]["414"]["description"]


def test_conditional_and_idempotent_requests_are_documented(schema):
    detail = schema["paths"]["/api/v1/customers/{number}/"]

    for method in ("put", "patch", "delete"):
        assert "If-Match" in headers(detail[method])
    assert reads_conditionally(detail["get"])
    assert writes_conditionally(detail["patch"])
    assert "ETag" in detail["patch"]["responses"]["200"]["headers"]
    assert "Idempotency-Key" in headers(schema["paths"]["/api/v1/customers/"]["post"])
    assert "Idempotency-Key" in headers(schema["paths"]["/api/v1/customers/bulk/"]["post"])


def test_the_list_documents_its_filters_and_cursor(schema):
    names = parameter_names(schema["paths"]["/api/v1/customers/"]["get"])

    assert {"cursor", "limit", "q", "station", "district", "line", "kind", "segment", "manager"} <= names
    assert {"sensitive", "is_high_sensitivity", "vip_tier", "verified_before", "verified_after"} <= names
    assert "updated_after" in names


def test_the_schema_is_served(api, manager):
    response = api(manager).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    validate_schema(response.json())
