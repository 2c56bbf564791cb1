"""What the API fuzzing run (scripts/fuzz.sh) found, each pinned down: the
schema says what the API enforces, and the API refuses what the schema does
not allow."""

import base64
import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from customers.models import Interaction, Visit
from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from tests.api.conftest import CUSTOMERS
from tests.api_errors import field_codes, field_messages
from tests.tickets import conftest as ticket_fixtures
from tickets.models import TicketEvent

sla_policies = ticket_fixtures.sla_policies
customer = ticket_fixtures.customer
open_ticket = ticket_fixtures.open_ticket

LISTS = [
    "/api/v1/customers/",
    "/api/v1/tickets/",
    "/api/v1/groups/",
    "/api/v1/outages/",
    "/api/v1/interactions/",
    "/api/v1/visits/",
]
WRITES = [
    "CustomerWrite",
    "ContactWrite",
    "TicketCreate",
    "Note",
    "TransferWrite",
    "OutageCreate",
    "VisitWrite",
]


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def components(schema: dict) -> dict:
    return schema["components"]["schemas"]


def parameter(operation: dict, name: str) -> dict:
    return next(p for p in operation["parameters"] if p["name"] == name)


# --- Pagination -------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["false", "0", "-3", "1.5", "2.0", "null", ""])
def test_a_limit_that_is_no_whole_number_from_1_is_a_400(api, manager, mine, limit):
    response = api(manager).get(CUSTOMERS, {"limit": limit})

    assert response.status_code == 400
    assert list(field_messages(response)) == ["limit"]


def test_a_good_limit_pages_and_a_big_one_is_refused(api, manager, mine):
    assert len(api(manager).get(CUSTOMERS, {"limit": "1"}).json()["results"]) == 1
    response = api(manager).get(CUSTOMERS, {"limit": "5000"})
    assert response.status_code == 400
    assert response.json()["code"] == "limit_too_large"


def test_a_cursor_the_list_did_not_issue_is_a_400(api, manager, mine):
    response = api(manager).get(CUSTOMERS, {"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert field_messages(response) == {"cursor": ["无效游标"]}


def _hand_made_cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("position", ["abc", "", "1.5", "-x", str(2**70), str(-(2**70)), "１２"])
@pytest.mark.parametrize("path", [CUSTOMERS, "/api/v1/tickets/", "/api/v1/outages/"])
def test_a_cursor_edited_to_a_position_no_id_can_be_is_a_400(api, manager, mine, path, position):
    response = api(manager).get(path, {"cursor": _hand_made_cursor(f"p={position}")})

    assert response.status_code == 400
    assert field_messages(response) == {"cursor": ["无效游标"]}


def test_a_cursor_edited_to_another_id_still_pages(api, manager, mine):
    response = api(manager).get(CUSTOMERS, {"cursor": _hand_made_cursor(f"p={mine.pk + 1}")})

    assert response.status_code == 200
    assert [row["number"] for row in response.json()["results"]] == [mine.number]


@pytest.mark.parametrize("limit", ["", "0", "1001", "2.0", "x"])
def test_the_sync_feed_refuses_a_limit_outside_1_to_1000(api, manager, mine, limit):
    response = api(manager).get("/api/v1/customers/sync/", {"limit": limit})

    assert response.status_code == 400 and "limit" in field_messages(response)
    if limit == "1001":
        assert response.json()["code"] == "limit_too_large", "the rule of the lists"


def test_the_sync_feed_documents_its_limit(schema):
    limit = parameter(schema["paths"]["/api/v1/customers/sync/"]["get"], "limit")

    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}


def test_the_outsider_pages_through_nothing(api, outsider, mine):
    response = api(outsider).get(CUSTOMERS, {"limit": "1"})

    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("path", LISTS)
def test_every_list_documents_limit_from_1_and_its_400(schema, path):
    operation = schema["paths"][path]["get"]

    assert parameter(operation, "limit")["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert "400" in operation["responses"]


def test_the_members_list_documents_its_400(schema):
    assert "400" in schema["paths"]["/api/v1/groups/{group_pk}/members/"]["get"]["responses"]


# --- Filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"updated_after": ""},
        {"is_important": ""},
        {"is_important": "maybe"},
        {"is_important": "null"},
        {"station_id": "1.5"},
        {"station_id": "x"},
        {"vip_tier": "1.5"},
    ],
)
def test_a_typed_filter_refuses_what_it_would_have_ignored(api, manager, mine, query):
    response = api(manager).get(CUSTOMERS, query)

    assert response.status_code == 400
    assert list(field_messages(response)) == list(query)


def test_typed_filters_still_filter(api, manager, mine, grid):
    client = api(manager)
    station_id = mine.station_id

    assert [row["number"] for row in client.get(CUSTOMERS, {"is_important": "true"}).json()["results"]] == [
        mine.number
    ]
    assert client.get(CUSTOMERS, {"is_important": "false"}).json()["results"] == []
    assert [row["number"] for row in client.get(CUSTOMERS, {"station_id": station_id}).json()["results"]] == [
        mine.number
    ]
    # A text filter and a list still take an empty value (no filter).
    assert len(client.get(CUSTOMERS, {"q": ""}).json()["results"]) == 1
    assert len(client.get(CUSTOMERS, {"kind": "", "station_id": ""}).json()["results"]) == 1


def test_an_id_beyond_a_bigint_matches_nothing(api, manager, mine):
    client = api(manager)
    huge = str(10**30)

    assert client.get(CUSTOMERS, {"station_id": huge}).json()["results"] == []
    response = client.get(CUSTOMERS, {"station_id": f"{huge},{mine.station_id}"})
    assert [row["number"] for row in response.json()["results"]] == [mine.number]


def test_id_and_date_time_filters_are_documented_as_such(schema):
    operation = schema["paths"]["/api/v1/visits/"]["get"]

    staff_id = parameter(operation, "staff_id")
    assert staff_id["schema"] == {"type": "array", "items": {"type": "integer"}}
    assert staff_id["description"] == "Staff ids"
    moment = parameter(operation, "scheduled_after")["schema"]
    assert moment["format"] == "date-time"
    pattern = re.compile(moment["pattern"])
    assert pattern.search("2026-11-22T10:00:00+08:00") and pattern.search("2026-11-22T10:00:00Z")
    assert pattern.search("2026-11-22T10:00:00-12:00") and pattern.search("2026-11-22T10:00:00+14:00")
    assert not pattern.search("2026-11-22T10:00:00+14:24") and not pattern.search("2026-11-22T10:00:00-15:00")


def test_boolean_filters_with_a_method_are_documented_as_booleans_and_text_takes_no_nul(schema):
    groups = schema["paths"]["/api/v1/groups/"]["get"]
    messages = schema["paths"]["/api/v1/groups/{group_pk}/messages/"]["get"]

    assert parameter(groups, "archived")["schema"] == {"type": "boolean"}
    assert parameter(messages, "unanswered")["schema"] == {"type": "boolean"}
    assert parameter(groups, "q")["schema"]["pattern"] == "^[^\\u0000]*$"
    assert parameter(groups, "owner_username")["schema"]["items"]["pattern"] == "^[^\\u0000]*$"


def test_a_nul_in_a_text_filter_is_a_400(api, manager, mine):
    response = api(manager).get(CUSTOMERS, {"manager": "a\x00b"})

    assert response.status_code == 400 and list(field_messages(response)) == ["manager"]


def test_a_date_time_with_an_impossible_offset_is_still_a_400(api, manager, mine):
    response = api(manager).get(CUSTOMERS, {"updated_after": "2026-11-22T10:00:00+14:24"})

    assert response.status_code == 400 and list(field_messages(response)) == ["updated_after"]


# --- Request bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", WRITES)
def test_writes_that_refuse_unknown_fields_say_so(schema, name):
    assert components(schema)[name]["additionalProperties"] is False


def test_responses_stay_open(schema):
    assert "additionalProperties" not in components(schema)["TicketDetail"]


def test_text_and_keys_that_must_not_be_blank_say_so(schema):
    transfer = components(schema)["TransferWrite"]["properties"]

    assert transfer["to_unit"]["minLength"] == 1 and transfer["tracker"]["minLength"] == 1
    # A nullable key takes "" as null.
    assert "minLength" not in transfer["to_user"]
    reason = re.compile(transfer["reason"]["pattern"])
    assert reason.search("跨所处理") and not reason.search("   ") and not reason.search("a\x00b")
    note = re.compile(components(schema)["Note"]["properties"]["note"]["pattern"])
    assert note.search("") and not note.search("\x00")


def test_blank_text_and_keys_are_refused_as_documented(api, manager, open_ticket):
    ticket = open_ticket()
    response = api(manager).post(
        f"/api/v1/tickets/{ticket.number}/transfer/",
        {"to_unit": "", "tracker": "", "reason": "   "},
        format="json",
    )

    assert response.status_code == 400
    assert set(field_messages(response)) == {"to_unit", "tracker", "reason"}


def test_a_member_is_a_contact_or_a_user_exactly(schema):
    member = components(schema)["GroupMemberAdd"]

    assert member["allOf"] == [{"oneOf": [{"required": ["contact"]}, {"required": ["user"]}]}]
    item = components(schema)["GroupMessageIngestItem"]
    assert item["allOf"] == [
        {"oneOf": [{"required": ["contact"]}, {"required": ["mobile"]}, {"required": ["user"]}]}
    ]


def test_the_idempotency_key_is_documented_as_printable_ascii(schema):
    key = parameter(schema["paths"]["/api/v1/tickets/"]["post"], "Idempotency-Key")["schema"]

    pattern = re.compile(key["pattern"])
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert pattern.search("retry-42") and pattern.search("a b")
    assert not pattern.search(" a") and not pattern.search("a ") and not pattern.search("键")


def test_request_bodies_are_json_only(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert list(operation["requestBody"]["content"]) == ["application/json"], (path, method)


# --- Groups: a change does not take the WeChat id ---------------------------------------------------


@pytest.fixture
def group(manager, grid) -> ServiceGroup:
    return group_create(
        by=manager,
        name="永乐一号台区服务群",
        kind=GroupKind.DISTRICT,
        district=grid["district"],
        rules="文明发言，不发广告。",
        external_id="wx-1",
    )


def test_a_group_change_documents_no_external_id_and_no_required_field(schema):
    for name in ("ServiceGroupChange", "PatchedServiceGroupChange"):
        change = components(schema)[name]
        assert "external_id" not in change["properties"] and "required" not in change
    assert "external_id" in components(schema)["ServiceGroupWrite"]["properties"]
    assert components(schema)["GroupKindEnum"]["enum"] == GroupKind.values


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_group_changes_without_its_wechat_id(api, manager, group, method):
    client = api(manager)
    path = f"/api/v1/groups/{group.pk}/"

    response = getattr(client, method)(path, {"name": "永乐台区群"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "永乐台区群"

    refused = getattr(client, method)(path, {"external_id": "wx-2"}, format="json")
    assert refused.status_code == 400 and field_messages(refused) == {"external_id": ["该字段只读。"]}
    group.refresh_from_db()
    assert group.external_id == "wx-1"


def test_the_outsider_cannot_change_a_group(api, outsider, group):
    response = api(outsider).patch(f"/api/v1/groups/{group.pk}/", {"name": "x"}, format="json")

    assert response.status_code == 404


# --- Responses: stored blanks are documented ---------------------------------------------------


def test_blank_statuses_and_resolution_kinds_are_documented(schema):
    event = components(schema)["TicketEvent"]["properties"]
    detail = components(schema)["TicketDetail"]["properties"]
    visit = components(schema)["ReturnVisit"]["properties"]

    for prop in (event["from_status"], event["to_status"], detail["resolution_kind"], visit["result"]):
        assert {"$ref": "#/components/schemas/BlankEnum"} in prop["oneOf"]
    # The ticket's own status is never blank.
    assert "oneOf" not in detail["status"]


def test_a_new_orders_first_step_has_a_blank_previous_status(api, manager, open_ticket):
    ticket = open_ticket()
    body = api(manager).get(f"/api/v1/tickets/{ticket.number}/").json()

    assert TicketEvent.objects.filter(ticket=ticket, from_status="").exists()
    assert "" in {event["from_status"] for event in body["timeline"]}
    assert body["resolution_kind"] == ""


# --- Unresolvable API paths -------------------------------------------------------------------------


def test_a_write_to_a_path_that_names_nothing_is_a_json_404_even_with_a_session(manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    for method in ("post", "delete"):
        response = getattr(client, method)("/api/v1/groups/0.5/members/")
        assert response.status_code == 404, method
        assert response.json() == {"detail": "未找到。", "code": "not_found"}


# --- Bulk upsert: items are refused one by one -------------------------------------------------------


def test_bulk_items_are_documented_as_taken_one_by_one(schema):
    body = schema["paths"]["/api/v1/customers/bulk/"]["post"]["requestBody"]

    assert body["required"] is True
    items = body["content"]["application/json"]["schema"]["items"]
    assert items == {"anyOf": [{"$ref": "#/components/schemas/CustomerWrite"}, {}]}


def test_a_bulk_item_that_is_no_customer_write_is_an_invalid_outcome(api, manager, grid):
    response = api(manager).post("/api/v1/customers/bulk/", [{"number": ""}, 5], format="json")

    assert response.status_code == 200
    assert [row["status"] for row in response.json()["results"]] == ["invalid", "invalid"]


def test_a_bulk_body_that_is_no_array_is_a_400(api, manager):
    response = api(manager).post("/api/v1/customers/bulk/", {"number": "5201000001"}, format="json")

    assert response.status_code == 400


def test_a_number_where_the_schema_says_text_is_refused_and_changes_nothing(api, manager, mine):
    client = api(manager)
    url = f"{CUSTOMERS}{mine.number}/"
    etag = client.get(url)["ETag"]
    response = client.patch(url, {"notes": 33, "name": "新名字"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 400
    assert field_messages(response) == {"notes": ["请填写文本。"]}
    mine.refresh_from_db()
    assert (mine.notes, mine.name) != ("33", "新名字")
    assert client.patch(url, {"notes": "33"}, format="json", HTTP_IF_MATCH=etag).status_code == 200


# --- Methods and idempotent creates -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("trace", "/api/v1/tickets/?assignee=&category=attitude&q="),
        ("delete", "/api/v1/interactions/?customer=1&channel=qq"),
        ("put", "/api/v1/customers/?station=LS01"),
    ],
)
def test_a_method_the_operation_lacks_is_a_405_whatever_the_query(api, manager, method, path):
    response = getattr(api(manager), method)(path)

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_an_unknown_parameter_is_still_a_400_on_a_method_the_operation_has(api, manager):
    response = api(manager).get("/api/v1/tickets/", {"assignee_idd": "1"})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_parameter"


def test_every_create_taking_an_idempotency_key_documents_the_409_of_a_request_in_flight(schema):
    idempotent = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    ]

    assert len(idempotent) == 7
    for path, method, operation in idempotent:
        assert {"409", "422"} <= set(operation["responses"]), (method, path)


# --- Keys given as text are text ---------------------------------------------------------------
# A NUL in a customer number or a username reached PostgreSQL in the lookup: a 500 (DataError).


def test_a_nul_in_a_visits_customer_number_is_a_400_and_plans_nothing(api, manager, mine):
    client = api(manager)
    visit = {"customer": "t\x00\u00ce", "purpose": "complaint", "scheduled_at": "2099-12-03T00:17:53+08:00"}

    response = client.post("/api/v1/visits/", visit, format="json")

    assert response.status_code == 400
    assert field_codes(response) == {"customer": ["invalid_text"]}
    assert not Visit.objects.exists()
    assert (
        client.post("/api/v1/visits/", {**visit, "customer": mine.number}, format="json").status_code == 201
    )


def test_a_nul_in_a_contact_logs_customer_number_is_a_400(api, manager, mine):
    contact_log = {
        "customer": "\x00",
        "channel": "phone",
        "occurred_at": "2020-01-01T00:00:00Z",
        "summary": "电话",
    }

    response = api(manager).post("/api/v1/interactions/", contact_log, format="json")

    assert response.status_code == 400
    assert field_codes(response) == {"customer": ["invalid_text"]}
    assert not Interaction.objects.exists()


def test_a_nul_in_a_members_username_is_a_400_and_adds_no_one(api, manager, colleague, group):
    client = api(manager)
    path = f"/api/v1/groups/{group.pk}/members/"
    before = group.memberships.count()

    response = client.post(path, {"user": "\x00\u009c\u008b"}, format="json")

    assert response.status_code == 400
    assert field_codes(response) == {"user": ["invalid_text"]}
    assert group.memberships.count() == before
    assert client.post(path, {"user": colleague.username}, format="json").status_code == 201


@pytest.mark.parametrize("value", ["LS\x0001", "LS\x1b[31m"])
def test_a_control_character_in_a_customers_station_code_is_a_400(api, manager, mine, value):
    client = api(manager)
    url = f"{CUSTOMERS}{mine.number}/"

    response = client.patch(url, {"station": value}, format="json")

    assert response.status_code == 400
    assert field_codes(response) == {"station": ["invalid_text"]}


def test_keys_given_as_text_are_documented_without_nul(schema):
    assert components(schema)["VisitWrite"]["properties"]["customer"]["pattern"] == r"^[^\u0000]*$"
    assert components(schema)["GroupMemberAdd"]["properties"]["user"]["pattern"] == r"^[^\u0000]*$"


# --- A blank or unknown format is a bad parameter ---------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/customers/sync/", "/api/v1/customers/"])
@pytest.mark.parametrize("value", ["", "\U000ff425\x0fX", "xml"])
def test_a_blank_or_unknown_format_is_a_400(api, manager, mine, path, value):
    client = api(manager)

    response = client.get(path, {"format": value})

    assert response.status_code == 400
    assert field_messages(response) == {"format": ["响应格式必须是接口提供的一种（如 json）。"]}
    english = client.get(path, {"format": value}, HTTP_ACCEPT_LANGUAGE="en")
    assert field_messages(english) == {"format": ["The format must be one the API offers (e.g. json)."]}
    assert client.get(path, {"format": "json"}).status_code == 200
