"""Bulk upsert by customer number: per-item outcomes, savepoints, idempotent retries."""

import threading

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import IdempotentRequest
from customers import services
from customers.models import Contact, Customer
from tests.api.conftest import BULK, postgres_only
from tests.api_errors import field_messages


def items_for(mine, grid) -> list[dict]:
    return [
        {"number": "5201030001", "name": "新户一", "station": "LS01", "district": grid["district"].code},
        {"number": "52-bad", "name": "坏户号", "station": "LS01"},
        {"number": mine.number, "name": "永乐大酒店"},
        {
            "number": "5201030002",
            "name": "新户二",
            "station": "LS01",
            "contacts": [{"name": "坏电话", "mobile": "123"}],
        },
        {"number": "5201030003", "name": "新户三", "station": "LS01", "colour": "red"},
        {"number": mine.number, "notes": "同一户的第二项"},
        {
            "number": "5201030004",
            "name": "新户四",
            "station": "LS01",
            "contacts": [{"name": "户主", "mobile": "13885553004", "is_primary": True}],
        },
    ]


def test_valid_items_commit_and_invalid_ones_report_their_errors(api, manager, mine, grid):
    version = Customer.objects.get(pk=mine.pk).version

    response = api(manager).post(BULK, items_for(mine, grid), format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "created"),
        (1, "invalid"),
        (2, "updated"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "updated"),
        (6, "created"),
    ]
    assert (body["created"], body["updated"], body["unchanged"], body["failed"]) == (2, 2, 0, 3)
    results = body["results"]
    assert results[1]["errors"] == {"number": ["户号必须是10到13位数字。"]}
    assert results[3]["errors"] == {"contacts": {"0": {"mobile": ["请输入11位手机号码，例如 13595561234。"]}}}
    assert results[4]["errors"] == {"colour": ["未知字段。"]}
    assert results[2]["version"] > version
    assert results[5]["version"] > results[2]["version"], "the second item saw the first one's change"

    stored = Customer.objects.get(pk=mine.pk)
    assert (stored.name, stored.notes) == ("永乐大酒店", "同一户的第二项")
    assert stored.version == results[5]["version"]
    assert set(
        Customer.all_objects.filter(number__startswith="52010300").values_list("number", flat=True)
    ) == {
        "5201030001",
        "5201030004",
    }
    created = Customer.objects.get(number="5201030001")
    assert created.line == grid["line"]
    assert created.history.get().history_user == manager
    assert Contact.objects.get(customer__number="5201030004").name == "户主"


def test_an_item_whose_version_is_stale_is_a_conflict(api, manager, colleague, mine):
    stale = Customer.objects.get(pk=mine.pk).version
    services.customer_update(customer=mine, updated_by=colleague, notes="同事先改了")
    current = Customer.objects.get(pk=mine.pk).version
    items = [
        {"number": mine.number, "name": "覆盖", "version": stale},
        {"number": "5201039999", "name": "以为存在", "version": 3},
    ]

    body = api(manager).post(BULK, items, format="json").json()

    assert body["results"][0]["status"] == "conflict"
    assert body["results"][0]["version"] == current
    assert list(body["results"][0]["errors"]) == ["version"]
    assert body["results"][1]["status"] == "conflict"
    assert Customer.objects.get(pk=mine.pk).name == "雷山县永乐酒店"
    assert not Customer.all_objects.filter(number="5201039999").exists()

    items = [{"number": mine.number, "name": "按新版本修改", "version": current}]
    assert api(manager).post(BULK, items, format="json").json()["results"][0]["status"] == "updated"


def test_an_unchanged_item_is_reported_as_such(api, manager, mine):
    body = api(manager).post(BULK, [{"number": mine.number, "name": mine.name}], format="json").json()

    assert body["results"][0]["status"] == "unchanged"
    assert body["results"][0]["version"] == Customer.objects.get(pk=mine.pk).version


def test_an_archive_out_of_scope_is_not_changed(api, manager, foreign):
    body = api(manager).post(BULK, [{"number": foreign.number, "name": "越权"}], format="json").json()

    assert body["results"][0]["status"] == "invalid"
    assert Customer.objects.get(pk=foreign.pk).name == "凯里市某商场"


def test_a_retry_with_the_same_idempotency_key_is_not_applied_twice(api, manager, mine, grid):
    client = api(manager)
    items = items_for(mine, grid)

    first = client.post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="batch-2024-07-01")
    versions = dict(Customer.all_objects.values_list("number", "version"))
    contacts = Contact.objects.count()
    history = Customer.history.count()
    retry = client.post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="batch-2024-07-01")

    assert retry.status_code == first.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert dict(Customer.all_objects.values_list("number", "version")) == versions
    assert Contact.objects.count() == contacts
    assert Customer.history.count() == history

    other = client.post(BULK, items[:1], format="json", HTTP_IDEMPOTENCY_KEY="batch-2024-07-01")
    assert other.status_code == 422
    assert "detail" in other.json()


def test_idempotency_keys_are_per_user(api, manager, supervisor, mine):
    items = [{"number": mine.number, "notes": "按键重放"}]
    api(manager).post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    response = api(supervisor).post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="same-key")

    assert "Idempotent-Replayed" not in response
    assert IdempotentRequest.objects.filter(key="same-key").count() == 2


def test_more_than_1000_items_are_refused_and_leave_no_key_behind(api, manager):
    client = api(manager)
    too_many = [{"number": f"{5300000000 + n}", "name": "x", "station": "LS01"} for n in range(1001)]

    response = client.post(BULK, too_many, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 400
    assert "1000" in field_messages(response)["non_field_errors"][0]
    assert not IdempotentRequest.objects.exists()
    assert Customer.all_objects.count() == 0

    unnumbered = [{"name": "x"}] * 1000
    response = client.post(BULK, unnumbered, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 200, "1,000 is the limit, not more"
    assert response.json()["failed"] == 1000
    assert IdempotentRequest.objects.filter(key="k1").exists()


def test_a_create_takes_an_idempotency_key_too(api, manager):
    client = api(manager)
    body = {"number": "5201030100", "name": "重试的新户", "station": "LS01"}

    first = client.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    retry = client.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["ETag"] == first["ETag"]
    assert Customer.objects.filter(number="5201030100").count() == 1


@pytest.mark.parametrize("body", [{"number": "5201030001"}, "text", None])
def test_a_body_that_is_not_an_array_is_a_400(api, manager, body):
    assert api(manager).post(BULK, body, format="json").status_code == 400


def test_a_bad_idempotency_key_is_a_400(api, manager):
    response = api(manager).post(BULK, [], format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)

    assert response.status_code == 400
    assert "Idempotency-Key" in field_messages(response)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_racing_apply_once(manager, mine, grid):
    token = Token.objects.create(user=manager)
    items = items_for(mine, grid)
    start = threading.Barrier(2)
    responses = []

    def send() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            start.wait(timeout=30)
            responses.append(client.post(BULK, items, format="json", HTTP_IDEMPOTENCY_KEY="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # The loser answers 409 at once while the winner runs, or replays it if it came after.
    [applied] = [r for r in responses if r.status_code == 200 and "Idempotent-Replayed" not in r]
    [other] = [r for r in responses if r is not applied]
    if other.status_code == 409:
        assert other.json()["code"] == "idempotency_in_progress"
    else:
        assert (other.status_code, other["Idempotent-Replayed"]) == (200, "true")
        assert other.json() == applied.json()
    assert Customer.objects.get(pk=mine.pk).history.filter(history_type="~").count() == 2
    assert Customer.objects.filter(number="5201030001").count() == 1
