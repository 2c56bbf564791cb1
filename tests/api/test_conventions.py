"""The API's conventions (docs/API.md), one test group each: filters, parameters, ordering,
limits, error codes, media types, list ETags, gzip, rate-limit fields, enums and auth in the schema."""

import gzip
import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.api import throttling
from tests.api.conftest import CUSTOMERS, SYNC, detail
from tests.api_errors import field_codes, field_messages


@pytest.fixture
def three(make_customer, manager):
    return [make_customer(by=manager, manager=manager, name=name) for name in ("甲", "乙", "丙")]


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


# --- Filters: repeated and comma-separated both mean OR ----------------------------------------


def test_a_repeated_filter_means_any_of_its_values(api, manager, three):
    a, b, c = (customer.number for customer in three)
    client = api(manager)

    repeated = numbers(client.get(f"{CUSTOMERS}?number={a}&number={b}"))
    commas = numbers(client.get(f"{CUSTOMERS}?number={a},{b}"))
    both = numbers(client.get(f"{CUSTOMERS}?number={a}&number={b},{c}"))

    assert sorted(repeated) == sorted(commas) == sorted([a, b])
    assert sorted(both) == sorted([a, b, c])


# --- Unknown and repeated single parameters ---------------------------------------------------


@pytest.mark.parametrize("path", [CUSTOMERS, SYNC])
def test_an_unknown_parameter_is_a_400_naming_it(api, manager, three, path):
    response = api(manager).get(path, {"staton": "LS01"})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_parameter"
    assert field_codes(response) == {"staton": ["unknown_parameter"]}
    assert "staton" in field_messages(response)
    assert api(manager).get(path).status_code == 200, "the same request without it is fine"


def test_a_list_parameter_is_unknown_on_a_detail(api, manager, three):
    response = api(manager).get(detail(three[0].number), {"number": three[1].number})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_parameter"


def test_a_single_valued_parameter_given_twice_is_a_400(api, manager, three):
    response = api(manager).get(f"{CUSTOMERS}?limit=1&limit=2")

    assert response.status_code == 400
    assert response.json()["code"] == "repeated_parameter"
    assert list(field_codes(response)) == ["limit"]


def test_an_anonymous_client_hears_401_before_any_parameter_check(api):
    response = api().get(CUSTOMERS, {"staton": "x"})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- Ordering ---------------------------------------------------------------------------------


def test_a_list_orders_by_a_whitelisted_field_either_way(api, manager, three):
    client = api(manager)
    expected = sorted(customer.number for customer in three)

    assert numbers(client.get(CUSTOMERS, {"ordering": "number"})) == expected
    assert numbers(client.get(CUSTOMERS, {"ordering": "-number"})) == expected[::-1]
    assert numbers(client.get(CUSTOMERS)) == [c.number for c in sorted(three, key=lambda c: -c.pk)]


def test_ordering_pages_walk_every_row_once(api, manager, three):
    client = api(manager)
    seen, url = [], f"{CUSTOMERS}?ordering=name&limit=1"
    while url:
        body = client.get(url).json()
        seen.extend(row["name"] for row in body["results"])
        url = body["next"]

    assert seen == sorted(["甲", "乙", "丙"])


def test_ordering_by_another_field_is_a_400(api, manager, three):
    response = api(manager).get(CUSTOMERS, {"ordering": "notes"})

    assert response.status_code == 400
    assert "ordering" in field_messages(response)


def test_ordering_is_documented_with_its_fields():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ordering = next(
        p for p in schema["paths"]["/api/v1/customers/"]["get"]["parameters"] if p["name"] == "ordering"
    )

    assert "-number" in ordering["description"]


# --- Limits: above the cap is a 400 everywhere ------------------------------------------------


@pytest.mark.parametrize("path", [CUSTOMERS, SYNC])
def test_a_limit_above_the_cap_is_a_400_on_lists_and_sync_alike(api, manager, three, path):
    response = api(manager).get(path, {"limit": "1001"})

    assert response.status_code == 400
    assert response.json()["code"] == "limit_too_large"
    assert field_codes(response) == {"limit": ["limit_too_large"]}
    assert api(manager).get(path, {"limit": "1000"}).status_code == 200


# --- Error codes and media types --------------------------------------------------------------


def test_errors_carry_a_stable_code(api, manager, three, foreign):
    client = api(manager)

    assert client.get(detail(foreign.number)).json()["code"] == "not_found"
    assert client.get("/api/v1/nothing-here/").json()["code"] == "not_found"
    assert client.put(SYNC, {}, format="json").json()["code"] == "method_not_allowed"
    stale = client.patch(detail(three[0].number), {"name": "新"}, format="json", HTTP_IF_MATCH='"1-999"')
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")


def test_a_field_error_is_a_body_with_code_detail_and_each_errors_code(api, manager):
    body = {"number": "5201000078", "station": "LS01", "contacts": [{"name": "户主", "mobile": "123"}]}

    response = api(manager).post(CUSTOMERS, body, format="json")

    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"code", "detail", "errors"}
    assert error["code"] == "validation_error" and error["detail"]
    assert error["errors"]["name"] == [{"message": "该字段是必填项。", "code": "required"}]
    assert set(error["errors"]["contacts"]) == {"0"}, "a list's errors are keyed by the bad item's position"
    assert field_codes(response)["contacts"]["0"]["mobile"] == ["invalid"]


def test_field_names_cannot_collide_with_the_keys_of_the_body(api, manager, three):
    response = api(manager).patch(
        detail(three[0].number), {"code": "x", "detail": "y", "errors": "z"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field_codes(response) == {name: ["unknown_field"] for name in ("code", "detail", "errors")}


def test_a_rules_error_keeps_its_own_code(api, manager, three):
    too_short = api(manager).get(CUSTOMERS, {"q": "苗"})
    read_only = api(manager).patch(detail(three[0].number), {"completeness": 9}, format="json")

    assert too_short.json()["code"] == read_only.json()["code"] == "validation_error"
    assert field_codes(too_short) == {"q": ["too_short"]}
    assert field_codes(read_only) == {"completeness": ["read_only"]}


def test_a_form_encoded_body_is_a_415_and_changes_nothing(api, manager, three):
    client = api(manager)
    customer = three[0]

    form = client.patch(detail(customer.number), {"name": "表单"}, format="multipart")
    urlencoded = client.generic(
        "PATCH", detail(customer.number), "name=x", content_type="application/x-www-form-urlencoded"
    )

    assert form.status_code == urlencoded.status_code == 415
    assert form.json()["code"] == "unsupported_media_type"
    customer.refresh_from_db()
    assert customer.name == "甲"
    assert client.patch(detail(customer.number), {"name": "表单"}, format="json").status_code == 200


# --- List ETags -------------------------------------------------------------------------------


def test_a_list_answers_304_while_its_etag_is_current(api, manager, three):
    client = api(manager)
    first = client.get(CUSTOMERS)
    etag = first["ETag"]

    assert etag.startswith('W/"')
    unchanged = client.get(CUSTOMERS, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged.content == b""
    client.patch(detail(three[0].number), {"name": "改了"}, format="json")
    changed = client.get(CUSTOMERS, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


# --- Gzip: token clients only -----------------------------------------------------------------


def test_token_clients_get_gzip_and_session_pages_do_not(api, client, manager, three):
    token_client = api(manager)

    packed = token_client.get(CUSTOMERS, HTTP_ACCEPT_ENCODING="gzip")
    assert packed["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(packed.content))["results"]) == 3
    assert "Content-Encoding" not in token_client.get(CUSTOMERS)

    client.force_login(manager)
    session = client.get(CUSTOMERS, HTTP_ACCEPT_ENCODING="gzip")
    assert session.status_code == 200 and "Content-Encoding" not in session


# --- Rate-limit fields ------------------------------------------------------------------------


def test_every_answer_says_the_rate_limit_and_a_429_says_when_to_retry(api, manager, monkeypatch):
    monkeypatch.setattr(throttling.UserRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"})
    monkeypatch.setattr(throttling.AtomicRateThrottle, "timer", lambda self: 1_800_000_010.0)
    client = api(manager)

    first, second, third = (client.get(CUSTOMERS) for _n in range(3))

    assert first["RateLimit-Policy"] == '"user";q=2;w=60'
    assert first["RateLimit"] == '"user";r=1;t=50'
    assert second["RateLimit"] == '"user";r=0;t=50'
    assert third.status_code == 429
    assert third["Retry-After"] == "50"
    assert third.json()["code"] == "throttled"


# --- Schema: enums, auth ----------------------------------------------------------------------


def test_every_enum_documents_names_and_labels_for_its_codes():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    enums = {name: s for name, s in schemas.items() if "enum" in s}

    assert enums
    for name, enum in enums.items():
        assert len(enum["x-enum-varnames"]) == len(enum["x-enum-descriptions"]) == len(enum["enum"]), name
    assert schemas["UrgencyEnum"]["x-enum-varnames"] == ["NORMAL", "URGENT", "CRITICAL"]
    assert schemas["UrgencyEnum"]["x-enum-descriptions"] == ["普通", "紧急", "特急"]


def test_the_token_scheme_names_its_prefix():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    token = schema["components"]["securitySchemes"]["tokenAuth"]

    assert token["x-token-prefix"] == "Token"
    assert "Authorization: Token <key>" in token["description"]
    assert schema["info"]["title"].isascii()
    shapes = schema["components"]["schemas"]
    # The sync row's shapes are told apart by `deleted`, pinned in each (a live row that fails to
    # parse must not pass for a tombstone in a generated client).
    assert shapes["SyncCustomer"]["properties"]["deleted"]["const"] is False
    assert shapes["SyncTombstone"]["properties"]["deleted"]["const"] is True
