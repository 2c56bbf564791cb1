"""The groups endpoints are documented with every response code they give."""

import pytest
from drf_spectacular.validation import validate_schema

from tests.api import schema_helpers
from tests.api.schema_helpers import parameter_names

schema = schema_helpers.schema

GROUP = "/api/v1/groups/{id}/"
MEMBERS = "/api/v1/groups/{group_pk}/members/"
MEMBER = "/api/v1/groups/{group_pk}/members/{id}/"
MESSAGES = "/api/v1/groups/{group_pk}/messages/"
OPERATIONS = {
    ("/api/v1/groups/", "get"): {"200", "400", "401", "414", "429"},
    ("/api/v1/groups/", "post"): {"201", "400", "401", "403", "409", "422", "414", "429"},
    (GROUP, "get"): {"200", "401", "404", "414", "429"},
    (GROUP, "put"): {"200", "400", "401", "403", "404", "414", "429"},
    (GROUP, "patch"): {"200", "400", "401", "403", "404", "414", "429"},
    (MEMBERS, "get"): {"200", "400", "401", "404", "414", "429"},
    (MEMBERS, "post"): {"200", "201", "400", "401", "403", "404", "414", "429"},
    (MEMBER, "delete"): {"204", "400", "401", "403", "404", "414", "429"},
    (f"{MEMBER}leave/", "post"): {"200", "400", "401", "403", "404", "414", "429"},
    (MESSAGES, "get"): {"200", "400", "401", "404", "414", "429"},
    (MESSAGES, "post"): {"200", "400", "401", "404", "414", "429"},
}


def test_the_schema_with_the_groups_is_valid(schema):
    validate_schema(schema)


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_groups_operation_documents_its_responses(schema, path, method):
    assert set(schema["paths"][path][method]["responses"]) == OPERATIONS[path, method]


def test_the_list_documents_its_filters_and_the_ingest_its_batch(schema):
    names = parameter_names(schema["paths"]["/api/v1/groups/"]["get"])
    ingest = schema["paths"][MESSAGES]["post"]

    assert {"cursor", "limit", "kind", "owner", "zombie", "archived", "q"} <= names
    assert "Idempotency-Key" in parameter_names(schema["paths"]["/api/v1/groups/"]["post"])
    assert ingest["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
