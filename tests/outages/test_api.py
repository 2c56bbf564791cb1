"""/api/v1/outages/: registering without duplicates, every step, conflicts, ETags, scoping and filters."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifications.models import Notification
from outages import services
from outages.models import Outage, OutageKind, OutageNotice, OutageStatus
from tests.api import conftest as api_fixtures
from tests.api_errors import field_messages

api = api_fixtures.api
postgres_only = api_fixtures.postgres_only
empty_throttle_cache = api_fixtures.empty_throttle_cache

OUTAGES = "/api/v1/outages/"
STEPS = ("publish", "start", "estimate", "restore", "cancel")


def detail(outage: Outage) -> str:
    return f"{OUTAGES}{outage.pk}/"


def step(outage: Outage, name: str) -> str:
    return f"{OUTAGES}{outage.pk}/{name}/"


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def stored(outage: Outage) -> Outage:
    return Outage.objects.get(pk=outage.pk)


def moment(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def planned_body(**fields) -> dict:
    return {
        "kind": "planned",
        "reason": "10kV永乐线检修",
        "lines": ["XL-LS-1"],
        "planned_start": moment(days=10),
        "planned_end": moment(days=10, hours=8),
        **fields,
    }


def fault_body(**fields) -> dict:
    return {
        "kind": "fault",
        "reason": "变压器烧毁",
        "districts": ["TQ-1"],
        "estimated_restoration": moment(hours=3),
        **fields,
    }


# --- Create ----------------------------------------------------------------------------


def test_it_registers_a_planned_outage_by_line_and_district_codes(api, manager, grid, populate):
    populate(grid["d1"], 3, sensitive=1)
    populate(grid["d3"], 2)
    response = api(manager).post(
        OUTAGES, planned_body(districts=["TQ-3"], external_id="PMS-2026-001"), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    outage = Outage.objects.get(pk=body["id"])
    assert body["kind"] == {"code": "planned", "label": "计划停电"}
    assert body["status"] == {"code": "planned", "label": "已计划"}
    assert body["lines"] == [{"id": grid["line"].pk, "code": "XL-LS-1", "name": "10kV永乐线"}]
    assert body["districts"] == [{"id": grid["d3"].pk, "code": "TQ-3", "name": "丹江台区"}]
    assert body["org_unit"]["code"] == "LS01"
    assert body["created_by"]["username"] == manager.username
    assert body["impact"] == {"customers": 5, "sensitive": 1, "frozen": False}
    assert body["notices"] == []
    assert body["external_id"] == "PMS-2026-001"
    assert response["ETag"] == f'"{outage.pk}-{body["version"]}"'
    assert outage.created_by == manager
    assert set(outage.lines.all()) == {grid["line"]}
    assert set(outage.districts.all()) == {grid["d3"]}
    assert outage.estimated_restoration == outage.planned_end


def test_it_registers_a_fault_outage_that_has_begun(api, manager, grid):
    began = moment(minutes=-20)
    response = api(manager).post(OUTAGES, fault_body(actual_start=began), format="json")

    assert response.status_code == 201, response.content
    outage = Outage.objects.get(pk=response.json()["id"])
    assert outage.kind == OutageKind.FAULT
    assert outage.status == OutageStatus.PLANNED
    assert outage.actual_start.isoformat() == timezone.datetime.fromisoformat(began).isoformat()
    assert response.json()["kind"]["label"] == "故障停电"


def test_the_same_external_id_returns_the_registered_outage_and_changes_nothing(api, manager, grid):
    client = api(manager)
    first = client.post(OUTAGES, planned_body(external_id="PMS-7"), format="json")
    assert first.status_code == 201, first.content

    again = client.post(OUTAGES, fault_body(external_id="PMS-7", reason="另一条原因"), format="json")

    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert Outage.objects.filter(external_id="PMS-7").count() == 1
    assert Outage.objects.get(external_id="PMS-7").reason == "10kV永乐线检修"


def test_an_external_id_registered_outside_your_scope_is_a_conflict(api, manager, outsider, grid):
    theirs = api(outsider).post(
        OUTAGES, fault_body(districts=["TQ-KL"], external_id="PMS-KL-1"), format="json"
    )
    assert theirs.status_code == 201, theirs.content

    response = api(manager).post(OUTAGES, fault_body(external_id="PMS-KL-1"), format="json")

    assert response.status_code == 409, response.content
    assert "detail" in response.json()
    assert Outage.objects.count() == 1
    assert set(Outage.objects.get().districts.values_list("code", flat=True)) == {"TQ-KL"}


def test_an_idempotency_key_retry_of_the_same_request_makes_no_second_outage(api, manager, grid):
    client = api(manager)
    body = fault_body()
    first = client.post(OUTAGES, body, format="json", HTTP_IDEMPOTENCY_KEY="dispatch-43")
    assert first.status_code == 201, first.content

    retry = client.post(OUTAGES, body, format="json", HTTP_IDEMPOTENCY_KEY="dispatch-43")

    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Outage.objects.count() == 1
    other = client.post(
        OUTAGES, fault_body(reason="另一次故障"), format="json", HTTP_IDEMPOTENCY_KEY="dispatch-43"
    )
    assert other.status_code == 422
    assert Outage.objects.count() == 1


def test_unknown_fields_are_rejected(api, manager, grid):
    client = api(manager)
    response = client.post(OUTAGES, fault_body(colour="red", status="ongoing"), format="json")

    assert response.status_code == 400
    assert field_messages(response) == {"colour": ["未知字段。"], "status": ["未知字段。"]}
    assert not Outage.objects.exists()
    assert client.post(OUTAGES, fault_body(), format="json").status_code == 201


def test_unknown_or_invisible_codes_are_field_errors(api, manager, grid):
    client = api(manager)
    response = client.post(OUTAGES, fault_body(lines=["XL-NONE"], districts=["TQ-1", "TQ-KL"]), format="json")

    assert response.status_code == 400
    errors = field_messages(response)
    assert errors["lines"] == ["未知或无权使用的线路编码：XL-NONE"]
    assert errors["districts"] == ["未知或无权使用的台区编码：TQ-KL"]
    assert not Outage.objects.exists()
    assert client.post(OUTAGES, fault_body(districts=["TQ-1"]), format="json").status_code == 201


def test_the_services_rules_answer_with_field_messages(api, manager, grid):
    response = api(manager).post(
        OUTAGES,
        planned_body(lines=[], planned_start=None, planned_end=moment(days=1)),
        format="json",
    )

    assert response.status_code == 400
    errors = field_messages(response)
    assert errors["lines"] == ["请至少选择一条线路或一个台区。"]
    assert errors["planned_start"] == ["计划停电必须填写计划开始时间。"]
    assert not Outage.objects.exists()


# --- Steps -----------------------------------------------------------------------------


def test_a_planned_outage_goes_through_every_step(api, manager, grid, populate, planned):
    populate(grid["d1"], 4, sensitive=2)
    outage = planned()
    client = api(manager)

    published = client.post(step(outage, "publish"), {}, format="json")
    assert published.status_code == 200, published.content
    assert published.json()["status"]["code"] == "published"
    assert published.json()["impact"] == {"customers": 4, "sensitive": 2, "frozen": True}
    assert {n["kind"] for n in published.json()["notices"]} == {"advance-7d", "advance-1d", "start"}
    assert published["ETag"] == f'"{outage.pk}-{published.json()["version"]}"'

    later = moment(days=10, hours=10)
    estimated = client.post(step(outage, "estimate"), {"estimated_restoration": later}, format="json")
    assert estimated.status_code == 200, estimated.content
    assert stored(outage).estimated_restoration == timezone.datetime.fromisoformat(later)
    assert "delay-1" in {n["kind"] for n in estimated.json()["notices"]}
    assert estimated.json()["version"] != published.json()["version"]

    began = moment(minutes=-5)
    started = client.post(step(outage, "start"), {"at": began}, format="json")
    assert started.status_code == 200, started.content
    assert started.json()["status"] == {"code": "ongoing", "label": "停电中"}
    assert stored(outage).actual_start == timezone.datetime.fromisoformat(began)

    restored = client.post(step(outage, "restore"), {}, format="json")
    assert restored.status_code == 200, restored.content
    assert restored.json()["status"]["code"] == "restored"
    assert stored(outage).actual_end is not None
    assert "restored" in {n["kind"] for n in restored.json()["notices"]}


def test_a_fault_outage_is_ongoing_once_published(api, manager, fault):
    outage = fault()

    response = api(manager).post(step(outage, "publish"), format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"]["code"] == "ongoing"
    assert stored(outage).published_at is not None


def test_a_published_outage_can_be_cancelled(api, manager, planned):
    outage = services.outage_publish(outage=planned())

    response = api(manager).post(step(outage, "cancel"), {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"]["code"] == "cancelled"
    assert not OutageNotice.objects.filter(outage=outage, cancelled_at__isnull=True).exists()


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("start", {}),
        ("restore", {}),
        ("publish", {}),
        ("cancel", {}),
        ("estimate", {"estimated_restoration": "2030-01-01T08:00:00+08:00"}),
    ],
)
def test_a_step_the_status_does_not_allow_is_a_conflict_and_changes_nothing(
    api, manager, planned, name, body
):
    outage = planned()
    client = api(manager)
    # start needs a published outage; the others are refused once it is restored or cancelled.
    if name != "start":
        services.outage_publish(outage=outage)
        services.outage_start(outage=outage)
        if name != "cancel":
            services.outage_restore(outage=outage)
    before = client.get(detail(outage)).json()

    response = client.post(step(outage, name), body, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["detail"]
    assert client.get(detail(outage)).json() == before


def test_bad_step_input_is_a_field_error_and_changes_nothing(api, manager, fault):
    outage = services.outage_publish(outage=fault())
    client = api(manager)
    before = client.get(detail(outage)).json()

    missing = client.post(step(outage, "estimate"), {}, format="json")
    garbled = client.post(step(outage, "estimate"), {"estimated_restoration": "soon"}, format="json")
    unknown = client.post(step(outage, "restore"), {"note": "ok"}, format="json")
    future = client.post(step(outage, "restore"), {"at": moment(hours=2)}, format="json")
    too_early = client.post(step(outage, "restore"), {"at": moment(days=-1)}, format="json")

    assert missing.status_code == 400 and "estimated_restoration" in field_messages(missing)
    assert garbled.status_code == 400 and "estimated_restoration" in field_messages(garbled)
    assert unknown.status_code == 400 and field_messages(unknown) == {"note": ["未知字段。"]}
    assert future.status_code == 400 and field_messages(future) == {"at": ["时间不能晚于现在。"]}
    assert too_early.status_code == 400 and field_messages(too_early) == {
        "at": ["恢复送电时间不能早于停电开始时间。"]
    }
    assert client.get(detail(outage)).json() == before
    assert client.post(step(outage, "restore"), {}, format="json").status_code == 200


def test_a_stale_if_match_is_refused_with_the_current_etag(api, manager, colleague, fault):
    outage = fault()
    mine, theirs = api(manager), api(colleague)
    read = mine.get(detail(outage))
    assert read.status_code == 200
    assert theirs.post(step(outage, "publish"), format="json").status_code == 200
    current = theirs.get(detail(outage))

    response = mine.post(
        step(outage, "estimate"),
        {"estimated_restoration": moment(hours=6)},
        format="json",
        HTTP_IF_MATCH=read["ETag"],
    )

    assert response.status_code == 412
    assert response["ETag"] == current["ETag"] != read["ETag"]
    assert mine.get(detail(outage)).json() == current.json()
    retried = mine.post(
        step(outage, "estimate"),
        {"estimated_restoration": moment(hours=6)},
        format="json",
        HTTP_IF_MATCH=current["ETag"],
    )
    assert retried.status_code == 200, retried.content


def test_if_none_match_answers_not_modified_while_current(api, manager, fault):
    outage = fault()
    client = api(manager)
    etag = client.get(detail(outage))["ETag"]

    assert client.get(detail(outage), HTTP_IF_NONE_MATCH=etag).status_code == 304
    services.outage_publish(outage=outage)
    assert client.get(detail(outage), HTTP_IF_NONE_MATCH=etag).status_code == 200


# --- Scope and authentication ------------------------------------------------------------


def test_the_outsider_neither_sees_nor_steps_an_outage(api, outsider, supervisor, planned):
    outage = planned()
    client = api(outsider)

    assert ids(client.get(OUTAGES)) == set()
    assert client.get(detail(outage)).status_code == 404
    for name in STEPS:
        body = {"estimated_restoration": moment(days=11)} if name == "estimate" else {}
        assert client.post(step(outage, name), body, format="json").status_code == 404, name
    assert stored(outage).status == OutageStatus.PLANNED
    assert stored(outage).published_at is None
    # The county's supervisor does see it: the outsider's 404 is about scope.
    assert ids(api(supervisor).get(OUTAGES)) == {outage.pk}


def test_anonymous_clients_get_401(planned, db):
    outage = planned()
    client = APIClient()

    assert client.get(OUTAGES).status_code == 401
    assert client.get(detail(outage)).status_code == 401
    assert client.post(OUTAGES, fault_body(), format="json").status_code == 401
    assert client.post(step(outage, "publish"), format="json").status_code == 401
    assert stored(outage).published_at is None


# --- List ------------------------------------------------------------------------------


def test_the_list_filters_by_status_kind_times_and_codes(api, manager, grid, planned, fault):
    soon = planned(
        planned_start=timezone.now() + timedelta(days=2), planned_end=timezone.now() + timedelta(days=3)
    )
    later = planned(external_id="PMS-LATER")
    broken = services.outage_publish(outage=fault(districts=[grid["d3"]]))
    client = api(manager)

    assert ids(client.get(OUTAGES)) == {soon.pk, later.pk, broken.pk}
    assert ids(client.get(OUTAGES, {"status": "ongoing"})) == {broken.pk}
    assert ids(client.get(OUTAGES, {"status": "planned,ongoing"})) == {soon.pk, later.pk, broken.pk}
    assert ids(client.get(OUTAGES, {"kind": "planned"})) == {soon.pk, later.pk}
    assert ids(client.get(OUTAGES, {"planned_start_before": moment(days=5)})) == {soon.pk}
    assert ids(client.get(OUTAGES, {"planned_start_after": moment(days=5)})) == {later.pk}
    assert ids(client.get(OUTAGES, {"actual_start_after": moment(hours=-1)})) == {broken.pk}
    assert ids(client.get(OUTAGES, {"actual_start_before": moment(hours=-1)})) == set()
    assert ids(client.get(OUTAGES, {"external_id": "PMS-LATER"})) == {later.pk}
    assert ids(client.get(OUTAGES, {"district": "TQ-3"})) == {broken.pk}
    assert ids(client.get(OUTAGES, {"line": "XL-LS-2"})) == {broken.pk}
    assert ids(client.get(OUTAGES, {"line": "XL-LS-1"})) == {soon.pk, later.pk}
    assert client.get(OUTAGES, {"status": "finished"}).status_code == 400
    assert client.get(OUTAGES, {"planned_start_after": "tomorrow"}).status_code == 400


def test_the_list_is_keyset_paginated_newest_first(api, manager, planned):
    made = [planned() for _ in range(3)]
    client = api(manager)

    first = client.get(OUTAGES, {"limit": 2}).json()
    second = client.get(first["next"]).json()

    assert [row["id"] for row in first["results"]] == [made[2].pk, made[1].pk]
    assert [row["id"] for row in second["results"]] == [made[0].pk]
    assert "count" not in first


def test_the_list_runs_a_fixed_number_of_queries(api, manager, grid, planned, django_assert_num_queries):
    client = api(manager)
    planned()
    with CaptureQueriesContext(connection) as one:
        assert client.get(OUTAGES).status_code == 200
    for _ in range(5):
        planned(districts=[grid["d1"], grid["d3"]])

    with django_assert_num_queries(len(one.captured_queries)):
        assert len(client.get(OUTAGES).json()["results"]) == 6


# --- Detail ----------------------------------------------------------------------------


def test_the_detail_runs_a_fixed_number_of_queries(
    api, manager, grid, populate, planned, fault, django_assert_num_queries
):
    populate(grid["d1"], 2)
    populate(grid["d2"], 60, sensitive=12)
    populate(grid["d3"], 30, sensitive=3)
    small = services.outage_publish(outage=fault())
    big = services.outage_publish(outage=planned(lines=[grid["line"]], districts=[grid["d3"]]))
    for hours in (9, 10, 11):
        services.outage_update_estimate(
            outage=big, estimated_restoration=big.planned_end + timedelta(hours=hours)
        )
    notice = big.notices.get(kind="start")
    Notification.objects.bulk_create(
        [
            Notification(dedupe_key=f"{notice.dedupe_prefix}customer:{n}", subject="停电", status=status)
            for n, status in enumerate([Notification.Status.SENT] * 5 + [Notification.Status.FAILED] * 2)
        ]
    )
    client = api(manager)
    client.get(detail(small))  # the token's first use is not what is measured
    with CaptureQueriesContext(connection) as few:
        assert client.get(detail(small)).status_code == 200

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(detail(big))

    body = response.json()
    assert body["impact"] == {"customers": 92, "sensitive": 15, "frozen": True}
    assert len(body["notices"]) == 6
    start = next(n for n in body["notices"] if n["kind"] == "start")
    assert (start["sent"], start["failed"], start["queued"]) == (5, 2, 0)
    assert len(few.captured_queries) <= 8


# --- Concurrency -------------------------------------------------------------------------


def race(token: str, writers: int, send) -> list[int]:
    """`writers` threads released together, each sending one request with its own client."""
    start = threading.Barrier(writers)
    statuses: list[int] = []

    def write() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            start.wait(timeout=30)
            statuses.append(send(client).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_racing_creates_with_one_external_id_make_one_outage(manager, grid):
    token = Token.objects.create(user=manager).key
    body = fault_body(external_id="PMS-RACE")

    statuses = race(token, 8, lambda client: client.post(OUTAGES, body, format="json"))

    assert sorted(statuses) == [200] * 7 + [201]
    assert Outage.objects.filter(external_id="PMS-RACE").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_of_writers_holding_one_etag_exactly_one_changes_the_estimate(manager, fault):
    outage = services.outage_publish(outage=fault())
    token = Token.objects.create(user=manager).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    etag = client.get(detail(outage))["ETag"]
    estimates = iter(range(1, 100))

    def estimate(own: APIClient):
        later = {"estimated_restoration": moment(hours=3 + next(estimates))}
        return own.post(step(outage, "estimate"), later, format="json", HTTP_IF_MATCH=etag)

    statuses = race(token, 8, estimate)

    assert sorted(statuses) == [200] + [412] * 7
    assert outage.notices.filter(kind__startswith="delay-").count() == 1
