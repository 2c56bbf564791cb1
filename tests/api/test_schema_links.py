"""The schema's OpenAPI links (crm/schema_links.py): each names a real operation and real
parameters, every operation keyed by a path parameter is reached by one, and following
them from a create reads, changes (with the ETag) and deletes the object it made."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api.conftest import CUSTOMERS


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield path, method, operation


def by_id(schema: dict) -> dict[str, tuple[str, str, dict]]:
    return {op["operationId"]: (path, method, op) for path, method, op in operations(schema)}


def links(schema: dict):
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            for name, link in response.get("links", {}).items():
                yield (path, method, code, name), link


def test_every_link_names_an_operation_and_its_parameters(schema):
    targets = by_id(schema)
    count = 0
    for where, link in links(schema):
        count += 1
        assert link["operationId"] in targets, where
        _path, _method, target = targets[link["operationId"]]
        declared = {(p["in"], p["name"]) for p in target.get("parameters", [])}
        for qualified in link.get("parameters", {}):
            location, name = qualified.split(".", 1)
            assert (location, name) in declared, (where, qualified)
        if "requestBody" in link:
            body = target["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            properties = schema["components"]["schemas"][body]["properties"]
            assert set(link["requestBody"]) <= set(properties), where
    assert count > 300


def test_every_operation_keyed_by_a_path_parameter_is_reached_by_a_link(schema):
    reached = {link["operationId"] for _where, link in links(schema)}
    keyed = {op["operationId"] for path, _method, op in operations(schema) if "{" in path}

    assert keyed - reached == set()


def test_writes_reached_by_a_link_carry_the_etag_where_the_operation_takes_if_match(schema):
    targets = by_id(schema)
    for where, link in links(schema):
        _path, method, target = targets[link["operationId"]]
        takes_if_match = any(p["name"] == "If-Match" for p in target.get("parameters", []))
        from_a_list = "results/0" in str(link.get("parameters", {}))
        if method != "get" and takes_if_match and not from_a_list:
            assert link["parameters"]["header.If-Match"] == "$response.header.ETag", where


def test_a_created_customers_links_lead_to_it(api, supervisor, grid, schema):
    """Follow the 201's links as a client would: read, change with the ETag, open an order, delete."""
    client = api(supervisor)  # a supervisor may delete a customer, a manager may not
    created = client.post(
        CUSTOMERS,
        {"number": "5200000099", "name": "链接测试客户", "station": grid["line"].station.code},
        format="json",
    )
    assert created.status_code == 201, created.json()
    targets = by_id(schema)
    response_links = targets["customers_create"][2]["responses"]["201"]["links"]

    def follow(name: str, response, body: dict | None = None):
        link = response_links[name]
        path, method, _op = targets[link["operationId"]]
        headers, query = {}, {}
        for qualified, expression in link.get("parameters", {}).items():
            location, key = qualified.split(".", 1)
            value = resolve(expression, response)
            if location == "path":
                path = path.replace("{" + key + "}", str(value))
            elif location == "header":
                headers["HTTP_" + key.upper().replace("-", "_")] = value
            else:
                query[key] = value
        data = {**(body or {}), **{k: resolve(v, response) for k, v in link.get("requestBody", {}).items()}}
        if method == "get":
            return client.get(path, query, **headers)
        return getattr(client, method)(path, data or None, format="json", **headers)

    read = follow("GetCustomer", created)
    assert read.status_code == 200 and read.json()["number"] == "5200000099"
    changed = follow("PatchCustomer", created, {"name": "链接测试客户（改）"})
    assert changed.status_code == 200, changed.json()
    stale = follow("PatchCustomer", created, {"name": "旧版本"})
    assert stale.status_code == 412
    order = follow(
        "OpenTicket", created, {"kind": "inquiry", "title": "咨询电价", "description": "客户咨询峰谷电价。"}
    )
    assert order.status_code == 201, order.json()
    assert order.json()["customer"]["number"] == "5200000099"
    assert follow("DeleteCustomer", changed).status_code == 204
    assert follow("GetCustomer", created).status_code == 404


def resolve(expression: str, response):
    """The runtime expressions the links use: `$response.body#/a/0/b` and `$response.header.X`."""
    if expression.startswith("$response.header."):
        return response[expression.removeprefix("$response.header.")]
    match = re.fullmatch(r"\$response\.body#/(.+)", expression)
    assert match, expression
    value = response.json()
    for part in match.group(1).split("/"):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value
