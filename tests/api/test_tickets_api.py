"""/api/v1/tickets/: scoping, opening orders without duplicates, every step, ETags and filters."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import postgres_only
from tests.api_errors import field_messages
from tests.factories import UserFactory
from tests.tickets import conftest as ticket_fixtures
from tickets import services
from tickets.models import Kind, Source, Status, Ticket, TicketEvent

sla_policies = ticket_fixtures.sla_policies
customer = ticket_fixtures.customer
open_ticket = ticket_fixtures.open_ticket

TICKETS = "/api/v1/tickets/"


def detail(number: str) -> str:
    return f"{TICKETS}{number}/"


def step(number: str, name: str) -> str:
    return f"{TICKETS}{number}/{name}/"


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


def stored(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def events(ticket: Ticket) -> int:
    return TicketEvent.objects.filter(ticket=ticket).count()


NEW_ORDER = {"kind": Kind.REPAIR, "title": "家中停电", "description": "客户反映家中无电，邻居有电。"}
STEPS = {
    "accept": {},
    "start": {},
    "send-back": {"reason": "不属本所"},
    "transfer": {"to_unit": "LS02", "reason": "跨所处理", "tracker": "zhangsan"},
    "urge": {"note": "尽快处理"},
    "resolve": {"resolution": "已复电"},
    "return-visit": {"method": "phone", "result": "satisfied"},
    "reopen": {"note": "故障复发"},
    "archive": {},
    "dispatch": {"org_unit": "LS01", "assignee": "zhangsan"},
    "reassign": {"org_unit": "LS01", "assignee": "lisi", "reason": "处理人休假"},
}


# --- Scoping ---------------------------------------------------------------------------


def test_it_hides_orders_from_the_outsider(api, outsider, open_ticket):
    ticket = open_ticket()
    client = api(outsider)

    assert numbers(client.get(TICKETS)) == set()
    assert client.get(detail(ticket.number)).status_code == 404
    for name, body in STEPS.items():
        response = client.post(step(ticket.number, name), body, format="json")
        assert response.status_code == 404, name
    assert stored(ticket).status == Status.DISPATCHED
    assert events(ticket) == 2


def test_it_answers_401_to_anonymous_clients(api, open_ticket):
    ticket = open_ticket()
    client = api()

    for response in (
        client.get(TICKETS),
        client.get(detail(ticket.number)),
        client.post(TICKETS, {}, format="json"),
        client.post(step(ticket.number, "accept"), {}, format="json"),
    ):
        assert response.status_code == 401
        assert "detail" in response.json()


def test_the_unit_and_the_supervisor_see_the_order(api, colleague, supervisor, open_ticket):
    ticket = open_ticket()

    assert numbers(api(colleague).get(TICKETS)) == {ticket.number}
    assert numbers(api(supervisor).get(TICKETS)) == {ticket.number}


# --- Opening orders ----------------------------------------------------------------------


def test_it_opens_an_order_for_a_visible_customer(api, manager, customer):
    response = api(manager).post(TICKETS, {**NEW_ORDER, "customer": customer.number}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get(number=body["number"])
    assert body["customer"] == {"id": customer.pk, "number": customer.number, "name": "杨丽"}
    assert body["status"] == Status.NEW
    assert body["opened_by"]["username"] == "zhangsan"
    assert [event["action"] for event in body["timeline"]] == ["created"]
    assert body["timeline"][0]["actor"] == {"id": manager.pk, "username": "zhangsan", "name": "张三"}
    assert response["ETag"] == f'"{ticket.pk}-{ticket.version}"'
    assert ticket.contact_phone == "13885550001"


def test_an_assignee_dispatches_at_once(api, manager, customer):
    response = api(manager).post(
        TICKETS, {**NEW_ORDER, "customer": customer.number, "assignee": "zhangsan"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["status"] == Status.DISPATCHED
    assert response.json()["allowed_actions"] == ["accept", "send-back", "transfer"]


def test_a_retry_with_the_same_idempotency_key_opens_one_order(api, manager, customer):
    client = api(manager)
    body = {**NEW_ORDER, "customer": customer.number}

    first = client.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = client.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == first.json()["number"]
    assert Ticket.objects.count() == 1
    other = client.post(TICKETS, body, format="json", HTTP_IDEMPOTENCY_KEY="order-2")
    assert other.status_code == 201
    assert Ticket.objects.count() == 2


def test_a_resent_external_order_returns_the_first_with_200(api, manager, customer):
    client = api(manager)
    body = {
        **NEW_ORDER,
        "customer": customer.number,
        "source": Source.HOTLINE_95598,
        "external_id": "95598-77",
    }

    first = client.post(TICKETS, body, format="json")
    again = client.post(TICKETS, {**body, "title": "重发"}, format="json")

    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["title"] == "家中停电"
    assert Ticket.objects.filter(external_id="95598-77").count() == 1


def test_a_resent_external_order_out_of_scope_is_a_conflict(api, manager, outsider, customer, make_customer):
    body = {**NEW_ORDER, "source": Source.HOTLINE_95598, "external_id": "95598-78"}
    assert api(manager).post(TICKETS, {**body, "customer": customer.number}, format="json").status_code == 201
    foreign = make_customer(number="5203000001", station=outsider.org_unit)

    response = api(outsider).post(TICKETS, {**body, "customer": foreign.number}, format="json")

    assert response.status_code == 409
    assert "detail" in response.json()
    assert Ticket.objects.count() == 1


def test_the_customer_must_be_one_the_user_may_see(api, outsider, customer):
    response = api(outsider).post(TICKETS, {**NEW_ORDER, "customer": customer.number}, format="json")

    assert response.status_code == 400
    assert set(field_messages(response)) == {"customer"}
    assert not Ticket.objects.exists()


def test_bad_input_gets_field_messages_and_opens_nothing(api, manager, customer, outsider):
    client = api(manager)

    response = client.post(
        TICKETS, {"customer": customer.number, "kind": "gossip", "title": ""}, format="json"
    )
    assert response.status_code == 400
    assert set(field_messages(response)) == {"kind", "title", "description"}
    response = client.post(
        TICKETS, {**NEW_ORDER, "customer": customer.number, "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert set(field_messages(response)) == {"colour"}
    response = client.post(
        TICKETS, {**NEW_ORDER, "customer": customer.number, "assignee": outsider.username}, format="json"
    )
    assert response.status_code == 400
    assert set(field_messages(response)) == {"assignee"}
    assert not Ticket.objects.exists()
    assert client.post(TICKETS, {**NEW_ORDER, "customer": customer.number}, format="json").status_code == 201


# --- The detail ----------------------------------------------------------------------------


def test_the_detail_shows_the_timeline_transfers_visits_and_related(
    api, manager, supervisor, open_ticket, customer
):
    earlier = open_ticket(kind=Kind.COMPLAINT, title="投诉一")
    ticket = open_ticket(kind=Kind.COMPLAINT, title="投诉二")
    services.ticket_transfer(
        ticket=ticket, by=manager, to_unit=manager.org_unit, reason="换人", tracker=manager
    )

    response = api(supervisor).get(detail(ticket.number))

    assert response.status_code == 200
    body = response.json()
    assert body["related"] == [earlier.number]
    assert body["repeat_of"] == earlier.number
    assert body["is_repeat"] is True
    assert [event["action"] for event in body["timeline"]] == ["created", "dispatched", "transferred"]
    assert body["transfers"][0]["to_unit"]["code"] == "LS01"
    assert body["transfers"][0]["tracker"]["username"] == "zhangsan"
    assert body["return_visits"] == []
    assert body["contact_phone"] == "138****0001"
    assert body["allowed_actions"] == ["reassign", "transfer", "urge"]
    assert response["ETag"] == f'"{ticket.pk}-{stored(ticket).version}"'
    assert api(manager).get(detail(ticket.number)).json()["contact_phone"] == "13885550001"


def test_if_none_match_answers_304_while_current(api, manager, open_ticket):
    ticket = open_ticket()
    client = api(manager)
    etag = client.get(detail(ticket.number))["ETag"]

    assert client.get(detail(ticket.number), HTTP_IF_NONE_MATCH=etag).status_code == 304
    services.ticket_sign(ticket=ticket, by=manager)
    assert client.get(detail(ticket.number), HTTP_IF_NONE_MATCH=etag).status_code == 200


# --- Steps ---------------------------------------------------------------------------------


def post_step(client, ticket: Ticket, name: str, body: dict | None = None, **headers):
    response = client.post(
        step(ticket.number, name), body if body is not None else STEPS[name], format="json", **headers
    )
    return response


def test_the_whole_lifecycle_through_the_api(api, manager, supervisor, open_ticket):
    ticket = open_ticket()
    client = api(manager)

    for name, status in [
        ("accept", Status.SIGNED),
        ("start", Status.IN_PROGRESS),
        ("resolve", Status.RESOLVED),
        ("return-visit", Status.VISITED),
        ("archive", Status.ARCHIVED),
    ]:
        # The return visit is not the handler's to make (test_return_visitor.py).
        response = post_step(api(supervisor) if name == "return-visit" else client, ticket, name)
        assert response.status_code == 200, (name, response.content)
        assert response.json()["status"] == status
        assert stored(ticket).status == status
        assert response["ETag"] == f'"{ticket.pk}-{stored(ticket).version}"'
    body = response.json()
    assert [event["action"] for event in body["timeline"]][-5:] == [
        "signed",
        "started",
        "resolved",
        "return_visit",
        "archived",
    ]
    assert body["return_visits"][0]["result"] == "satisfied"
    assert body["return_visits"][0]["visited_by"]["username"] == "wangwu"
    assert body["allowed_actions"] == []


def test_send_back_and_dispatch(api, manager, supervisor, open_ticket):
    ticket = open_ticket()

    response = post_step(api(manager), ticket, "send-back")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.RETURNED
    assert response.json()["assignee"] is None

    response = post_step(api(supervisor), ticket, "dispatch")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.DISPATCHED
    assert response.json()["assignee"]["username"] == "zhangsan"


def test_transfer(api, manager, open_ticket):
    ticket = open_ticket()

    response = post_step(api(manager), ticket, "transfer")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["org_unit"]["code"] == "LS02"
    assert body["status"] == Status.DISPATCHED
    assert body["transfers"][0]["reason"] == "跨所处理"
    assert stored(ticket).org_unit.code == "LS02"


def test_urge_and_reopen(api, manager, supervisor, open_ticket):
    ticket = open_ticket()
    client = api(supervisor)

    response = post_step(client, ticket, "urge")
    assert response.status_code == 200, response.content
    assert response.json()["urge_count"] == 1

    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    response = post_step(client, ticket, "reopen")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.IN_PROGRESS


def test_an_illegal_transition_is_409_and_changes_nothing(api, manager, open_ticket):
    ticket = open_ticket()
    client = api(manager)
    before = (stored(ticket).version, events(ticket))

    for name in ("archive", "start", "resolve", "return-visit"):
        response = post_step(client, ticket, name)
        assert response.status_code == 409, (name, response.content)
        assert "detail" in response.json()
    assert stored(ticket).status == Status.DISPATCHED
    assert (stored(ticket).version, events(ticket)) == before
    assert post_step(client, ticket, "accept").status_code == 200


def test_a_step_not_for_the_users_role_is_403(api, manager, open_ticket):
    ticket = open_ticket()

    response = post_step(api(manager), ticket, "urge")

    assert response.status_code == 403
    assert "detail" in response.json()
    assert stored(ticket).urge_count == 0
    assert events(ticket) == 2


def test_bad_step_input_is_400_with_field_messages(api, manager, open_ticket):
    ticket = open_ticket()
    client = api(manager)
    services.ticket_sign(ticket=ticket, by=manager)

    response = post_step(client, ticket, "resolve", {"resolution": "", "commitment": "三天内换表"})
    assert response.status_code == 400
    assert "resolution" in field_messages(response)
    response = post_step(client, ticket, "resolve", {"resolution": "已换表", "commitment": "三天内换表"})
    assert response.status_code == 400
    assert set(field_messages(response)) == {"commitment_due"}
    response = post_step(client, ticket, "transfer", {**STEPS["transfer"], "to_user": "lisi"})
    assert response.status_code == 400
    assert set(field_messages(response)) == {"to_user"}
    assert stored(ticket).status == Status.SIGNED
    assert post_step(client, ticket, "resolve").status_code == 200


def test_a_stale_if_match_is_412_and_changes_nothing(api, manager, supervisor, open_ticket):
    ticket = open_ticket()
    client = api(manager)
    stale = client.get(detail(ticket.number))["ETag"]
    services.ticket_urge(ticket=ticket, by=supervisor, note="快")
    current = f'"{ticket.pk}-{stored(ticket).version}"'

    response = post_step(client, ticket, "accept", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert response["ETag"] == current
    assert stored(ticket).status == Status.DISPATCHED
    response = post_step(client, ticket, "accept", HTTP_IF_MATCH=current)
    assert response.status_code == 200
    assert response["ETag"] != current


# --- Filters -------------------------------------------------------------------------------


@pytest.fixture
def orders(open_ticket, manager, colleague, org_tree, customer):
    repair = open_ticket()
    complaint = open_ticket(kind=Kind.COMPLAINT, title="抄表员态度差", assignee=colleague)
    repeat = open_ticket(kind=Kind.COMPLAINT, title="再次投诉", assignee=None)
    hotline = open_ticket(source=Source.HOTLINE_95598, external_id="95598-1", urgency=2)
    services.ticket_sign(ticket=hotline, by=manager)
    Ticket.objects.filter(pk=repair.pk).update(resolve_due_at=timezone.now() - timedelta(hours=1))
    Ticket.objects.filter(pk=hotline.pk).update(
        resolve_warn_at=timezone.now() - timedelta(minutes=5),
        updated_at=timezone.now() + timedelta(days=1),
    )
    return {"repair": repair, "complaint": complaint, "repeat": repeat, "hotline": hotline}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "signed"}, {"hotline"}),
        ({"status": "new,signed"}, {"repeat", "hotline"}),
        ({"status": "open"}, {"repair", "complaint", "repeat", "hotline"}),
        ({"status": "closed"}, set()),
        ({"kind": "complaint"}, {"complaint", "repeat"}),
        ({"category": "other"}, {"repair", "complaint", "repeat", "hotline"}),
        ({"urgency": "2"}, {"hotline"}),
        ({"source": "95598"}, {"hotline"}),
        ({"external_id": "95598-1"}, {"hotline"}),
        ({"org_unit": "LSX"}, {"repair", "complaint", "repeat", "hotline"}),
        ({"org_unit": "LS02"}, set()),
        ({"assignee": "lisi"}, {"complaint"}),
        ({"unassigned": "true"}, {"repeat"}),
        ({"overdue": "true"}, {"repair"}),
        ({"overdue": "false"}, {"complaint", "repeat", "hotline"}),
        ({"near_deadline": "true"}, {"hotline"}),
        ({"repeat": "true"}, {"repeat"}),
        ({"repeat": "false"}, {"repair", "complaint", "hotline"}),
        ({"q": "态度"}, {"complaint"}),
        ({"q": "杨丽", "kind": "repair"}, {"repair", "hotline"}),
    ],
)
def test_filters(api, supervisor, orders, params, expected):
    response = api(supervisor).get(TICKETS, params)

    assert numbers(response) == {orders[name].number for name in expected}


def test_customer_and_time_filters(api, supervisor, orders, customer):
    client = api(supervisor)
    every = {ticket.number for ticket in orders.values()}

    assert numbers(client.get(TICKETS, {"customer": customer.number})) == every
    assert numbers(client.get(TICKETS, {"customer": "5299999999"})) == set()
    assert (
        numbers(client.get(TICKETS, {"created_after": (timezone.now() - timedelta(hours=1)).isoformat()}))
        == every
    )
    assert (
        numbers(client.get(TICKETS, {"created_after": (timezone.now() + timedelta(hours=1)).isoformat()}))
        == set()
    )
    later = (timezone.now() + timedelta(hours=12)).isoformat()
    assert numbers(client.get(TICKETS, {"updated_after": later})) == {orders["hotline"].number}


def test_a_bad_filter_value_is_400(api, supervisor, orders):
    response = api(supervisor).get(TICKETS, {"status": "lost"})

    assert response.status_code == 400
    assert "status" in field_messages(response)


def test_the_list_pages_with_a_cursor(api, supervisor, orders):
    client = api(supervisor)

    first = client.get(TICKETS, {"limit": 3}).json()
    second = client.get(first["next"]).json()

    seen = [row["number"] for row in first["results"] + second["results"]]
    assert sorted(seen, reverse=True) == seen
    assert set(seen) == {ticket.number for ticket in orders.values()}
    assert second["next"] is None


def test_a_tracker_in_another_unit_sees_the_transferred_order(api, manager, open_ticket, org_tree):
    tracker = UserFactory(org_unit=org_tree["other_station"])
    ticket = open_ticket()
    services.ticket_transfer(
        ticket=ticket, by=manager, to_unit=org_tree["sibling_station"], reason="跨所处理", tracker=tracker
    )

    assert numbers(api(tracker).get(TICKETS)) == {ticket.number}


# --- Editing ---------------------------------------------------------------------------------


def test_patch_corrects_the_text_and_keeps_what_changed(api, manager, open_ticket):
    ticket = open_ticket()
    client = api(manager)
    etag = client.get(detail(ticket.number))["ETag"]

    response = client.patch(
        detail(ticket.number),
        {"title": "整栋楼停电", "where": "永乐路18号"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "整栋楼停电"
    assert body["where"] == "永乐路18号"
    assert body["description"] == "客户反映家中无电，邻居有电。"
    assert body["timeline"][-1]["action"] == "edited"
    assert body["timeline"][-1]["changes"] == {"title": "家中停电 → 整栋楼停电", "where": " → 永乐路18号"}
    assert response["ETag"] != etag
    stale = client.patch(detail(ticket.number), {"title": "再改"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stored(ticket).title == "整栋楼停电"


def test_patch_refuses_what_it_may_not_change(api, manager, colleague, outsider, open_ticket):
    ticket = open_ticket()
    client = api(manager)

    response = client.patch(detail(ticket.number), {"status": "archived", "title": ""}, format="json")
    assert response.status_code == 400
    assert set(field_messages(response)) == {"status"}
    response = client.patch(detail(ticket.number), {"title": ""}, format="json")
    assert response.status_code == 400
    assert set(field_messages(response)) == {"title"}
    assert api(colleague).patch(detail(ticket.number), {"title": "x"}, format="json").status_code == 403
    assert api(outsider).patch(detail(ticket.number), {"title": "x"}, format="json").status_code == 404
    assert client.put(detail(ticket.number), {"title": "x"}, format="json").status_code == 405
    assert stored(ticket).title == "家中停电"
    assert events(ticket) == 2


def test_an_archived_order_is_fixed(api, manager, supervisor, open_ticket):
    ticket = open_ticket()
    services.ticket_sign(ticket=ticket, by=manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    services.ticket_record_return_visit(ticket=ticket, by=supervisor, method="phone", result="satisfied")
    services.ticket_archive(ticket=ticket, by=manager)

    response = api(manager).patch(detail(ticket.number), {"title": "x"}, format="json")

    assert response.status_code == 409
    assert stored(ticket).title == "家中停电"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_of_ten_supervisors_holding_one_etag_exactly_one_urges(supervisor, open_ticket):
    ticket = open_ticket()
    token = Token.objects.create(user=supervisor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    etag = client.get(detail(ticket.number))["ETag"]
    writers = 10
    start = threading.Barrier(writers)
    statuses: list[int] = []

    def urge() -> None:
        try:
            own = APIClient()
            own.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            start.wait(timeout=30)
            statuses.append(
                own.post(step(ticket.number, "urge"), {}, format="json", HTTP_IF_MATCH=etag).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=urge) for _n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [412] * (writers - 1)
    assert stored(ticket).urge_count == 1
