"""What the OpenAPI tests share: the generated schema and readers of an operation's parts."""

import pytest
from drf_spectacular.generators import SchemaGenerator

# What a step (POST .../<step>/) answers: the object as it stands, or why nothing changed.
STEP_CODES = {"200", "400", "401", "403", "404", "409", "412", "414", "429"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def headers(operation: dict) -> set[str]:
    """The names of the request headers an operation documents."""
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def parameter_names(operation: dict) -> set[str]:
    """The names of every parameter an operation documents (query, path and header)."""
    return {p["name"] for p in operation.get("parameters", [])}


def reads_conditionally(operation: dict) -> bool:
    """A GET that takes If-None-Match and answers with the object's ETag."""
    return "If-None-Match" in headers(operation) and "ETag" in operation["responses"]["200"]["headers"]


def writes_conditionally(operation: dict) -> bool:
    """A write that takes If-Match and, refused as stale (412), tells the current ETag."""
    return "If-Match" in headers(operation) and "ETag" in operation["responses"]["412"]["headers"]
