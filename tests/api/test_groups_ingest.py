"""POST /api/v1/groups/{id}/messages/: a batch of messages from WeCom, stored once per original id."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from groups.models import GroupKind, GroupMessage, Membership, ServiceGroup
from groups.services.groups import group_archive, group_create
from groups.services.ingest import INGEST_MAX_ITEMS
from groups.services.members import membership_add_contact
from groups.services.messages import message_post, reply_post
from tests.api.conftest import postgres_only
from tests.api_errors import field_messages

RULES = "文明发言，不发广告；用电问题@客户经理。"


def messages(group) -> str:
    return f"/api/v1/groups/{group.pk}/messages/"


def at(minutes_ago: float) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


@pytest.fixture
def group(manager, grid) -> ServiceGroup:
    return group_create(
        by=manager, name="永乐一号台区服务群", kind=GroupKind.DISTRICT, district=grid["district"], rules=RULES
    )


@pytest.fixture
def contact(mine, group, manager):
    """杨老板 (mobile 13885551234), in the group."""
    contact = mine.contacts.get()
    membership_add_contact(group=group, contact=contact, by=manager)
    return contact


def batch(contact, manager) -> list[dict]:
    return [
        {"external_id": "m1", "mobile": contact.mobile, "text": "请问今天为什么停电？", "sent_at": at(30)},
        {"external_id": "m2", "contact": contact.pk, "text": "谢谢", "sent_at": at(29)},
        {"external_id": "m3", "user": manager.username, "text": "线路检修，下午恢复。", "sent_at": at(20)},
    ]


def outcomes(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.content
    return [(row["external_id"], row["status"]) for row in response.json()["results"]]


def test_a_batch_is_stored_once_however_often_it_is_sent(api, manager, group, contact):
    client = api(manager)

    first = client.post(messages(group), batch(contact, manager), format="json")
    counts = GroupMessage.objects.count(), Membership.objects.count()
    second = client.post(messages(group), batch(contact, manager), format="json")

    assert outcomes(first) == [("m1", "created"), ("m2", "created"), ("m3", "created")]
    assert outcomes(second) == [("m1", "duplicate"), ("m2", "duplicate"), ("m3", "duplicate")]
    assert {k: second.json()[k] for k in ("created", "duplicate", "rejected")} == {
        "created": 0,
        "duplicate": 3,
        "rejected": 0,
    }
    assert (GroupMessage.objects.count(), Membership.objects.count()) == counts == (3, 2)
    inquiry = GroupMessage.objects.get(external_id="m1")
    assert inquiry.is_inquiry and inquiry.response_due_at is not None
    assert inquiry.sender_contact == contact and inquiry.customer_id == contact.customer_id
    assert not GroupMessage.objects.get(external_id="m2").is_inquiry
    staff = GroupMessage.objects.get(external_id="m3")
    assert (staff.sender_kind, staff.sender_user, staff.recorded_by) == ("staff", manager, manager)
    assert [row["id"] for row in first.json()["results"]] == [
        GroupMessage.objects.get(external_id=f"m{n}").pk for n in (1, 2, 3)
    ]


def test_an_id_repeated_within_a_batch_is_stored_once(api, manager, group, contact):
    items = batch(contact, manager)[:1] * 2

    response = api(manager).post(messages(group), items, format="json")

    assert outcomes(response) == [("m1", "created"), ("m1", "duplicate")]
    assert GroupMessage.objects.filter(external_id="m1").count() == 1


def test_a_staff_message_in_the_batch_answers_the_inquiry_it_replies_to(api, manager, group, contact):
    items = batch(contact, manager)
    items[2]["reply_to"] = "m1"

    response = api(manager).post(messages(group), items, format="json")

    assert outcomes(response)[2] == ("m3", "created")
    inquiry = GroupMessage.objects.get(external_id="m1")
    reply = GroupMessage.objects.get(external_id="m3")
    assert response.json()["results"][2]["answered"] == [inquiry.pk]
    assert (inquiry.answer, inquiry.answered_at) == (reply, reply.sent_at)
    assert inquiry.response_seconds == pytest.approx(600, abs=2)


def test_a_staff_message_naming_the_customer_answers_the_earlier_inquiries(api, manager, group, contact):
    earlier, _created = message_post(
        group=group, contact=contact, text="电费怎么这么高？", sent_at=timezone.now() - timedelta(hours=1)
    )
    items = [
        {
            "external_id": "q2",
            "contact": contact.pk,
            "text": "电表在哪里看？",
            "sent_at": at(30),
            "is_inquiry": True,
        },
        {
            "external_id": "r1",
            "user": manager.username,
            "text": "稍等",
            "sent_at": at(20),
            "customer": contact.customer.number,
        },
        {
            "external_id": "r2",
            "user": manager.username,
            "text": "已查明",
            "sent_at": at(10),
            "customer": contact.customer.number,
        },
        {"external_id": "q3", "contact": contact.pk, "text": "还有个问题？", "sent_at": at(5)},
    ]

    response = api(manager).post(messages(group), items, format="json")

    results = response.json()["results"]
    assert [row["status"] for row in results] == ["created"] * 4
    first_reply = GroupMessage.objects.get(external_id="r1")
    second = GroupMessage.objects.get(external_id="q2")
    assert sorted(results[1]["answered"]) == sorted([earlier.pk, second.pk])
    assert results[2]["answered"] == []
    assert GroupMessage.objects.get(pk=earlier.pk).answer == first_reply
    assert second.answer == first_reply
    assert GroupMessage.objects.get(external_id="q3").answered_at is None


def test_only_the_first_reply_answers_an_inquiry_recorded_earlier(api, manager, group, contact):
    inquiry, _created = message_post(
        group=group,
        contact=contact,
        text="停电了？",
        sent_at=timezone.now() - timedelta(hours=1),
        external_id="q1",
    )
    reply_post(group=group, by=manager, text="在查。", inquiry=inquiry)
    answer = GroupMessage.objects.get(pk=inquiry.pk).answer

    response = api(manager).post(
        messages(group),
        [
            {
                "external_id": "r9",
                "user": manager.username,
                "text": "恢复了",
                "sent_at": at(1),
                "reply_to": "q1",
            }
        ],
        format="json",
    )

    assert outcomes(response) == [("r9", "created")]
    assert response.json()["results"][0]["answered"] == []
    assert GroupMessage.objects.get(pk=inquiry.pk).answer == answer


def test_bad_items_are_rejected_with_field_errors_and_the_good_ones_stored(
    api, manager, colleague, outsider, group, contact, foreign
):
    good = batch(contact, manager)
    bad = [
        {"external_id": "b1", "contact": foreign.contacts.get().pk, "text": "你好", "sent_at": at(3)},
        {"external_id": "b2", "mobile": "123", "text": "你好", "sent_at": at(3)},
        {"external_id": "b3", "mobile": "13900000000", "text": "你好", "sent_at": at(3)},
        {"external_id": "b4", "user": colleague.username, "text": "你好", "sent_at": at(3)},
        {"external_id": "b5", "user": manager.username, "text": "你好", "sent_at": at(3), "is_inquiry": True},
        {"external_id": "b6", "user": manager.username, "text": "你好", "sent_at": at(3), "reply_to": "m2"},
        {"external_id": "b7", "contact": contact.pk, "text": "  ", "sent_at": at(3)},
        {"external_id": "b8", "contact": contact.pk, "text": "你好", "sent_at": at(-60)},
        {
            "external_id": "b9",
            "contact": contact.pk,
            "mobile": contact.mobile,
            "text": "你好",
            "sent_at": at(3),
        },
        {"external_id": "b10", "contact": contact.pk, "text": "你好", "sent_at": "yesterday"},
        {"external_id": "b11", "contact": contact.pk, "text": "你好", "sent_at": at(3), "colour": "red"},
        {"contact": contact.pk, "text": "没有消息号", "sent_at": at(3)},
        "not an object",
    ]

    response = api(manager).post(messages(group), [good[0], *bad, good[1], good[2]], format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["duplicate"], body["rejected"]) == (3, 0, len(bad))
    errors = {row["index"]: row["errors"] for row in body["results"] if row["status"] == "rejected"}
    assert set(errors[1]) == {"contact"}
    assert set(errors[2]) == {"mobile"}
    assert set(errors[3]) == {"mobile"}
    assert set(errors[4]) == {"user"}
    assert set(errors[5]) == {"is_inquiry"}
    assert set(errors[6]) == {"reply_to"}
    assert set(errors[7]) == {"text"}
    assert set(errors[8]) == {"sent_at"}
    assert set(errors[9]) == {"non_field_errors"}
    assert set(errors[10]) == {"sent_at"}
    assert set(errors[11]) == {"colour"}
    assert set(errors[12]) == {"external_id"}
    assert set(errors[13]) == {"non_field_errors"}
    assert set(GroupMessage.objects.values_list("external_id", flat=True)) == {"m1", "m2", "m3"}

    fixed = {**bad[3], "user": manager.username}
    assert outcomes(api(manager).post(messages(group), [fixed], format="json")) == [("b4", "created")]


def test_a_batch_of_only_bad_items_is_a_400_keyed_by_position(api, manager, group, contact, foreign):
    client = api(manager)
    bad = [
        {"external_id": "b1", "contact": foreign.contacts.get().pk, "text": "你好", "sent_at": at(3)},
        {"external_id": "b2", "contact": contact.pk, "text": "你好", "sent_at": at(3), "colour": "red"},
        "not an object",
    ]

    response = client.post(messages(group), bad, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    errors = response.json()["errors"]
    assert set(errors) == {"0", "1", "2"}
    assert set(errors["0"]) == {"contact"} and set(errors["1"]) == {"colour"}
    assert not GroupMessage.objects.exists()
    # A batch sent again whole is all duplicates: that is a success, not bad input.
    good = batch(contact, manager)
    assert client.post(messages(group), good, format="json").status_code == 200
    again = client.post(messages(group), good, format="json")
    assert again.status_code == 200 and again.json()["duplicate"] == len(good)


def test_a_batch_too_large_or_not_a_list_is_refused_whole(api, manager, group, contact):
    client = api(manager)
    item = {"contact": contact.pk, "text": "你好", "sent_at": at(1)}
    too_many = [{**item, "external_id": f"x{n}"} for n in range(INGEST_MAX_ITEMS + 1)]

    for body in (too_many, {"external_id": "x"}):
        response = client.post(messages(group), body, format="json")
        assert response.status_code == 400
        assert "non_field_errors" in field_messages(response)
    assert not GroupMessage.objects.exists()
    assert outcomes(client.post(messages(group), [], format="json")) == []
    assert outcomes(client.post(messages(group), too_many[:-1], format="json"))[-1] == ("x499", "created")


def test_an_archived_group_takes_no_messages(api, manager, group, contact):
    group_archive(group=group, by=manager)

    response = api(manager).post(messages(group), batch(contact, manager), format="json")

    assert response.status_code == 400
    assert not GroupMessage.objects.exists()


def ingest_queries(client, group, contact, manager, size: int, prefix: str) -> int:
    items = []
    for n in range(size):
        if n % 3 == 2:
            item = {"user": manager.username, "text": "收到", "customer": contact.customer.number}
        else:
            item = {
                "mobile" if n % 2 else "contact": contact.mobile if n % 2 else contact.pk,
                "text": "请问？",
            }
        items.append({**item, "external_id": f"{prefix}{n}", "sent_at": at(size - n)})
    with CaptureQueriesContext(connection) as queries:
        response = client.post(messages(group), items, format="json")
    assert response.json()["created"] == size
    return len(queries)


# Token, the group (scope, then locked), seen ids, senders (3), customers, INSERT, the new ids,
# the inquiries answered (locked), their UPDATE, the savepoint around them, and the reminders
# about them settled (read in the app, withdrawn elsewhere: two UPDATEs).
INGEST_QUERIES = 16


def test_an_ingest_costs_a_bounded_number_of_queries_whatever_the_batch_size(api, manager, group, contact):
    client = api(manager)

    small = ingest_queries(client, group, contact, manager, 5, "s")
    large = ingest_queries(client, group, contact, manager, 50, "l")

    assert small <= INGEST_QUERIES
    # Django splits an INSERT on SQLite at 999 parameters (41 messages); PostgreSQL takes one.
    assert large <= INGEST_QUERIES + (1 if connection.vendor == "sqlite" else 0)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_sent_twice_at_once_is_stored_once(manager, group, contact):
    token = Token.objects.create(user=manager)
    items = batch(contact, manager)
    items[2]["reply_to"] = "m1"
    start = threading.Barrier(2)
    responses = []

    def send() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            start.wait(timeout=30)
            responses.append(client.post(messages(group), items, format="json"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes(r)[0][1] for r in responses) == ["created", "duplicate"]
    assert sorted((r.json()["created"], r.json()["duplicate"]) for r in responses) == [(0, 3), (3, 0)]
    assert GroupMessage.objects.filter(group=group).count() == 3
    assert GroupMessage.objects.get(external_id="m1").answer == GroupMessage.objects.get(external_id="m3")
