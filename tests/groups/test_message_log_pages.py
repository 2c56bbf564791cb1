"""The group page's message log, a page at a time: unanswered inquiries first, then the
rest newest first, MESSAGE_LOG_SIZE per page, older pages by a link (the page or its htmx partial)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from groups import selectors
from groups.models import GroupMessage
from groups.services.messages import message_post

PAGE = 4


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(selectors, "MESSAGE_LOG_SIZE", PAGE)
    monkeypatch.setattr(selectors, "MESSAGE_LOG_PAGES", 3)


@pytest.fixture
def chatter(group, contact, member):
    """Two unanswered inquiries and nine plain messages, a minute apart, oldest first."""
    from django.utils import timezone

    start = timezone.now() - timedelta(hours=2)
    messages = [
        message_post(
            group=group, contact=contact, text=f"消息{index}", sent_at=start + timedelta(minutes=index)
        )[0]
        for index in range(9)
    ]
    inquiries = [
        message_post(
            group=group,
            contact=contact,
            text=f"咨询{index}",
            sent_at=start + timedelta(minutes=20 + index),
            is_inquiry=True,
        )[0]
        for index in range(2)
    ]
    return inquiries, messages


def log_of(client, group, **params) -> list[int]:
    response = client.get(reverse("groups:detail", args=[group.pk]), params)
    assert response.status_code == 200
    return [message.pk for message in response.context["group"].message_log]


def test_the_pages_together_are_the_whole_log_in_order(login, manager, group, chatter):
    inquiries, messages = chatter
    client = login(manager)
    pages = [log_of(client, group, log_page=page) for page in (1, 2, 3)]
    plain = [m.pk for m in reversed(messages)]
    # Waiting inquiries by their deadline (the later one first on a tie), then the rest newest first.
    waiting = sorted(
        GroupMessage.objects.filter(pk__in=[m.pk for m in inquiries]),
        key=lambda m: (m.response_due_at, -m.sent_at.timestamp(), -m.pk),
    )
    expected = [m.pk for m in waiting] + plain
    assert [pk for page in pages for pk in page] == expected
    assert [len(page) for page in pages] == [4, 4, 3]


def test_links_lead_to_older_and_newer_pages(login, manager, group, chatter):
    client = login(manager)
    html = client.get(reverse("groups:detail", args=[group.pk])).content.decode()
    assert "?log_page=2#group-messages" in html and "更早的消息" in html and "较新的消息" not in html
    html = client.get(reverse("groups:detail", args=[group.pk]), {"log_page": 3}).content.decode()
    assert "?log_page=2#group-messages" in html and "较新的消息" in html and "更早的消息" not in html


def test_the_partial_serves_a_page_for_htmx(login, manager, group, chatter):
    client = login(manager)
    response = client.get(
        reverse("groups:messages", args=[group.pk]), {"log_page": 2}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert [m.pk for m in response.context["group"].message_log] == log_of(client, group, log_page=2)
    assert f'hx-get="{reverse("groups:messages", args=[group.pk])}?log_page=3"' in html


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5", "9" * 40, "２"])
def test_a_bad_page_number_reads_the_first_page(login, manager, group, chatter, value):
    client = login(manager)
    assert log_of(client, group, log_page=value) == log_of(client, group)


def test_a_page_past_the_last_reads_the_last_allowed_page_and_says_when_nothing_is_older(
    login, manager, group, contact, member
):
    message_post(group=group, contact=contact, text="只有一条")
    client = login(manager)
    html = client.get(reverse("groups:detail", args=[group.pk]), {"log_page": 99}).content.decode()
    assert "没有更早的消息了。" in html and "较新的消息" in html


def test_each_page_costs_the_same_queries(login, manager, group, chatter):
    client = login(manager)
    counts = []
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("groups:detail", args=[group.pk]), {"log_page": page})
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == counts[2]


def test_another_units_group_is_still_a_404_on_any_page(login, outsider, group, chatter):
    client = login(outsider)
    for page in ("1", "2"):
        assert client.get(reverse("groups:detail", args=[group.pk]), {"log_page": page}).status_code == 404
        assert client.get(reverse("groups:messages", args=[group.pk]), {"log_page": page}).status_code == 404
    assert GroupMessage.objects.filter(group=group).count() == 11
