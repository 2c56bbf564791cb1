"""/api/v1/interactions/ and /api/v1/visits/: happy paths, filters, bad input, scoping."""

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Interaction, Visit
from tests.api import schema_helpers
from tests.api_errors import field_messages
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

INTERACTIONS = "/api/v1/interactions/"
VISITS = "/api/v1/visits/"
schema = schema_helpers.schema


def _interaction(customer_number: str, **overrides) -> dict:
    data = {
        "customer": customer_number,
        "channel": "phone",
        "direction": "outbound",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "summary": "电话通知计划停电时间。",
        "mood": "calm",
        "step_listen": True,
    }
    data.update(overrides)
    return data


def test_a_manager_logs_and_lists_contacts(api, mine, manager):
    client = api(manager)

    created = client.post(INTERACTIONS, _interaction(mine.number, mood="angry"), format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["customer"]["number"] == mine.number
    assert body["staff"]["username"] == manager.username
    assert body["step_listen"] is True and body["suggests_ticket"] is True
    listed = client.get(INTERACTIONS, {"customer": mine.number, "channel": "phone,sms"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert client.get(INTERACTIONS, {"channel": "sms"}).json()["results"] == []
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert client.get(INTERACTIONS, {"occurred_after": future}).json()["results"] == []
    assert len(client.get(INTERACTIONS, {"staff": manager.username}).json()["results"]) == 1


def test_bad_input_gets_field_messages_and_saves_nothing(api, mine, manager):
    client = api(manager)
    future = (timezone.now() + timedelta(days=1)).isoformat()

    response = client.post(
        INTERACTIONS, _interaction(mine.number, occurred_at=future, summary=""), format="json"
    )

    assert response.status_code == 400
    errors = field_messages(response)
    assert errors["occurred_at"] == ["联系时间不能晚于当前时间。"]
    assert errors["summary"] == ["请填写联系内容。"]
    unknown = client.post(INTERACTIONS, _interaction(mine.number, staff=1), format="json")
    assert unknown.status_code == 400 and "staff" in field_messages(unknown)
    assert not Interaction.objects.exists()
    assert client.post(INTERACTIONS, _interaction(mine.number), format="json").status_code == 201


def test_an_outsider_sees_nothing_and_cannot_log_for_another_units_customer(api, mine, manager, outsider):
    api(manager).post(INTERACTIONS, _interaction(mine.number), format="json")
    client = api(outsider)

    assert client.get(INTERACTIONS).json()["results"] == []
    response = client.post(INTERACTIONS, _interaction(mine.number), format="json")
    assert response.status_code == 400
    assert "无权查看" in field_messages(response)["customer"][0]
    assert Interaction.objects.count() == 1
    assert api().get(INTERACTIONS).status_code == 401


def test_a_manager_plans_reads_and_filters_visits(api, mine, manager):
    client = api(manager)
    when = timezone.now() + timedelta(days=2)

    created = client.post(
        VISITS,
        {
            "customer": mine.number,
            "purpose": "complaint",
            "scheduled_at": when.isoformat(),
            "prep_cause": "电压低",
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    visit = created.json()
    assert visit["staff"]["username"] == manager.username and visit["done_at"] is None
    assert client.get(f"{VISITS}{visit['id']}/").json()["prep_cause"] == "电压低"
    assert [
        row["id"] for row in client.get(VISITS, {"purpose": "complaint", "done": "false"}).json()["results"]
    ] == [visit["id"]]
    assert client.get(VISITS, {"done": "true"}).json()["results"] == []
    assert client.get(VISITS, {"scheduled_before": timezone.now().isoformat()}).json()["results"] == []


def test_a_visit_in_the_past_is_refused(api, mine, manager):
    past = (timezone.now() - timedelta(days=1)).isoformat()

    response = api(manager).post(
        VISITS, {"customer": mine.number, "purpose": "routine", "scheduled_at": past}, format="json"
    )

    assert response.status_code == 400
    assert field_messages(response)["scheduled_at"] == ["计划走访时间不能早于当前时间。"]
    assert not Visit.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_outsider_gets_404_for_a_visit_and_an_empty_list(api, mine, manager, outsider, method):
    visit = Visit.objects.create(
        customer=mine, staff=manager, purpose="routine", scheduled_at=timezone.now() + timedelta(days=1)
    )
    client = api(outsider)

    if method == "get":
        assert client.get(f"{VISITS}{visit.pk}/").status_code == 404
        assert client.get(VISITS).json()["results"] == []
    else:
        response = client.post(
            VISITS,
            {"customer": mine.number, "purpose": "routine", "scheduled_at": timezone.now().isoformat()},
            format="json",
        )
        assert response.status_code == 400
        assert Visit.objects.count() == 1


def test_lists_run_a_constant_number_of_queries(api, mine, manager, django_assert_max_num_queries):
    client = api(manager)
    for index in range(30):
        Interaction.objects.create(
            customer=mine, staff=manager, channel="phone", occurred_at=timezone.now(), summary=f"第{index}次"
        )
        Visit.objects.create(customer=mine, staff=manager, purpose="routine", scheduled_at=timezone.now())

    with django_assert_max_num_queries(6):
        assert len(client.get(INTERACTIONS).json()["results"]) == 30
    with django_assert_max_num_queries(6):
        assert len(client.get(VISITS).json()["results"]) == 30


def test_the_work_order_must_exist_and_be_visible(api, mine, foreign, manager, outsider):
    seed_default_policies(SlaPolicy)
    ours, _created = ticket_services.ticket_create(
        customer=mine, opened_by=manager, kind=Kind.REPAIR, title="家中停电", description="无电。"
    )
    theirs, _created = ticket_services.ticket_create(
        customer=foreign, opened_by=outsider, kind=Kind.REPAIR, title="家中停电", description="无电。"
    )
    client = api(manager)

    for number in ("GD999", theirs.number):
        response = client.post(INTERACTIONS, _interaction(mine.number, ticket_number=number), format="json")
        assert response.status_code == 400
        assert field_messages(response) == {"ticket_number": ["工单不存在或无权查看。"]}
    assert not Interaction.objects.exists()

    created = client.post(
        INTERACTIONS, _interaction(mine.number, ticket_number=ours.number.lower()), format="json"
    )
    assert created.status_code == 201
    assert created.json()["ticket_number"] == ours.number


def test_a_districts_visit_has_no_customer_and_the_schema_says_so(api, mine, manager, schema):
    """The on-site service of a long outage is a visit to a district: `customer` is null."""
    visit = Visit.objects.create(
        district=mine.district,
        staff=manager,
        purpose=Visit.Purpose.OUTAGE,
        scheduled_at=timezone.now() + timedelta(hours=1),
    )
    client = api(manager)

    listed = {row["id"]: row for row in client.get(VISITS).json()["results"]}
    detail = client.get(f"{VISITS}{visit.pk}/").json()

    assert listed[visit.pk]["customer"] is None and listed[visit.pk]["district"] == mine.district_id
    assert detail["customer"] is None
    customer = schema["components"]["schemas"]["Visit"]["properties"]["customer"]
    assert {"type": "null"} in customer["oneOf"]
