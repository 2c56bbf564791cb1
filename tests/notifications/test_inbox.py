"""The inbox page: one's own in-app messages, newest first, read one or all."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.selectors import INBOX_PAGE_SIZE
from notifications.services import notification_mark_read
from tests.factories import NotificationFactory

INBOX = reverse("notifications:inbox")


def read_url(notification) -> str:
    return reverse("notifications:read", args=[notification.pk])


def test_it_lists_only_my_in_app_messages_newest_first(login, manager, colleague, outsider):
    older = NotificationFactory(recipient=manager, subject="较早的提醒")
    newer = NotificationFactory(recipient=manager, subject="最新的提醒")
    NotificationFactory(recipient=colleague, subject="同事的提醒")
    NotificationFactory(recipient=outsider, subject="外单位的提醒")
    NotificationFactory(recipient=manager, subject="发给我的短信", channel=Notification.Channel.SMS)

    response = login(manager).get(INBOX)

    assert response.status_code == 200
    assert [g.latest.pk for g in response.context["items"]] == [newer.pk, older.pk]
    content = response.content.decode()
    assert content.index("最新的提醒") < content.index("较早的提醒")
    assert "同事的提醒" not in content
    assert "外单位的提醒" not in content
    assert "发给我的短信" not in content


def test_unread_messages_are_highlighted(login, manager):
    unread = NotificationFactory(recipient=manager)
    read = NotificationFactory(recipient=manager, read_at=timezone.now())

    content = login(manager).get(INBOX).content.decode()

    assert f'id="notification-{unread.pk}" data-unread="1"' in content
    assert f'id="notification-{read.pk}">' in content


def test_a_scheduled_message_appears_only_from_its_time(login, manager):
    NotificationFactory(
        recipient=manager, subject="明天的提醒", next_attempt_at=timezone.now() + timedelta(hours=1)
    )

    response = login(manager).get(INBOX)

    assert response.context["items"] == []
    assert response.context.get("unread_notifications") == 0


def test_it_pages_with_a_keyset_cursor(login, manager):
    rows = [NotificationFactory(recipient=manager) for _ in range(INBOX_PAGE_SIZE + 5)]
    client = login(manager)

    first = client.get(INBOX)
    cursor = first.context["next_before"]
    second = client.get(INBOX, {"before": cursor})

    newest_first = [row.pk for row in reversed(rows)]
    assert [g.latest.pk for g in first.context["items"]] == newest_first[:INBOX_PAGE_SIZE]
    assert cursor == newest_first[INBOX_PAGE_SIZE - 1]
    assert f"?before={cursor}" in first.content.decode()
    assert [g.latest.pk for g in second.context["items"]] == newest_first[INBOX_PAGE_SIZE:]
    assert second.context["next_before"] is None
    assert client.get(INBOX, {"before": "abc"}).context["items"][0].latest.pk == newest_first[0]


def test_an_empty_inbox_says_so(login, manager):
    response = login(manager).get(INBOX)

    assert response.status_code == 200
    assert 'id="inbox-empty"' in response.content.decode()
    assert "暂时没有消息" in response.content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_the_page_runs_a_fixed_number_of_queries(login, manager, count, django_assert_max_num_queries):
    for _ in range(count):
        NotificationFactory(recipient=manager)
    client = login(manager)

    # session, user, the page's groups, their messages, the header's unread
    # count and the unit on the header's identity card
    with django_assert_max_num_queries(6):
        assert client.get(INBOX).status_code == 200


def test_marking_one_read_redirects_back(login, manager):
    notification = NotificationFactory(recipient=manager)
    other = NotificationFactory(recipient=manager)

    response = login(manager).post(read_url(notification), {"next": f"{INBOX}?before=999"})

    assert response.status_code == 302
    assert response.url == f"{INBOX}?before=999"
    notification.refresh_from_db()
    other.refresh_from_db()
    assert notification.read_at is not None
    assert other.read_at is None


def test_viewing_a_linked_message_marks_it_read_and_opens_the_link(login, manager):
    notification = NotificationFactory(recipient=manager, link="/customers/?stale=1&manager=1")

    response = login(manager).post(read_url(notification), {"next": notification.link})

    assert response.url == "/customers/?stale=1&manager=1"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_an_off_site_next_is_ignored(login, manager):
    notification = NotificationFactory(recipient=manager)

    response = login(manager).post(read_url(notification), {"next": "https://evil.example.com/"})

    assert response.url == INBOX


@pytest.mark.parametrize("persona", ["colleague", "outsider", "supervisor", "admin_user"])
def test_someone_elses_message_answers_404(login, manager, persona, request):
    notification = NotificationFactory(recipient=manager)

    response = login(request.getfixturevalue(persona)).post(read_url(notification))

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None
    # The owner, sending the same request, succeeds.
    assert login(manager).post(read_url(notification)).status_code == 302


def test_mark_read_takes_only_post(login, manager):
    notification = NotificationFactory(recipient=manager)

    assert login(manager).get(read_url(notification)).status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_read_needs_the_csrf_token(manager):
    notification = NotificationFactory(recipient=manager)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    assert client.post(read_url(notification)).status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_touches_only_my_inbox(login, manager, colleague):
    mine = [NotificationFactory(recipient=manager) for _ in range(3)]
    theirs = NotificationFactory(recipient=colleague)
    later = NotificationFactory(recipient=manager, next_attempt_at=timezone.now() + timedelta(days=1))

    response = login(manager).post(reverse("notifications:read_all"), follow=True)

    assert response.redirect_chain == [(INBOX, 302)]
    assert "已将 3 条消息标为已读" in response.content.decode()
    assert Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).count() == 0
    theirs.refresh_from_db()
    later.refresh_from_db()
    assert theirs.read_at is None
    assert later.read_at is None


def test_the_header_shows_my_unread_count(login, manager, colleague):
    NotificationFactory.create_batch(2, recipient=manager)
    NotificationFactory(recipient=manager, read_at=timezone.now())
    NotificationFactory(recipient=colleague)
    client = login(manager)

    response = client.get(INBOX)

    assert response.context["unread_notifications"] == 2
    assert '<span class="badge text-bg-danger" id="unread-count">2</span>' in response.content.decode()

    client.post(reverse("notifications:read_all"))
    response = client.get(INBOX)
    assert response.context["unread_notifications"] == 0
    assert 'id="unread-count"' not in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_login(client, manager):
    notification = NotificationFactory(recipient=manager)

    assert client.get(INBOX).status_code == 302
    assert client.post(read_url(notification)).status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is None


def test_the_service_refuses_to_mark_someone_elses_message(manager, colleague):
    notification = NotificationFactory(recipient=manager)

    with pytest.raises(PermissionDenied):
        notification_mark_read(notification=notification, user=colleague)

    notification.refresh_from_db()
    assert notification.read_at is None
    assert notification_mark_read(notification=notification, user=manager) is True
    assert notification_mark_read(notification=notification, user=manager) is False


# --- grouped by what the messages are about ---------------------------------------------


def test_messages_about_one_order_are_one_row_with_count_unread_and_earlier(login, manager, colleague):
    order = "/tickets/GD202611200001/"
    first = NotificationFactory(recipient=manager, link=order, subject="工单待签收：GD202611200001")
    second = NotificationFactory(
        recipient=manager, link=order, subject="工单即将超时：GD202611200001", read_at=timezone.now()
    )
    other = NotificationFactory(recipient=manager, link="/tickets/GD202611200002/", subject="另一张工单")
    latest = NotificationFactory(recipient=manager, link=order, subject="工单已超时（1级）：GD202611200001")
    loose = NotificationFactory(recipient=manager, subject="没有链接的消息")
    NotificationFactory(recipient=colleague, link=order, subject="同事的提醒")

    response = login(manager).get(INBOX)

    groups = response.context["items"]
    assert [g.latest.pk for g in groups] == [loose.pk, latest.pk, other.pk]
    grouped = groups[1]
    assert (grouped.count, grouped.unread) == (3, 2)
    assert [e.pk for e in grouped.earlier] == [second.pk, first.pk]
    html = response.content.decode()
    assert html.count("工单已超时（1级）") == 1
    assert "共 3 条" in html and "2 条未读" in html and "较早的 2 条" in html
    assert f'id="notification-{first.pk}" class="fw-bold" data-unread="1"' in html
    assert "同事的提醒" not in html


def test_a_busy_order_shows_its_latest_few_and_says_how_many_more(login, manager):
    from notifications.selectors import GROUP_EARLIER_SHOWN

    order = "/tickets/GD202611200001/"
    rows = [NotificationFactory(recipient=manager, link=order) for _ in range(GROUP_EARLIER_SHOWN + 5)]

    [group] = login(manager).get(INBOX).context["items"]

    assert group.latest.pk == rows[-1].pk and group.count == len(rows)
    assert len(group.earlier) == GROUP_EARLIER_SHOWN and group.more == 4


def test_groups_page_by_their_latest_message(login, manager):
    links = [f"/tickets/GD{n:04d}/" for n in range(INBOX_PAGE_SIZE + 3)]
    for link in links:
        NotificationFactory(recipient=manager, link=link)
        NotificationFactory(recipient=manager, link=link)
    client = login(manager)

    first = client.get(INBOX)
    second = client.get(INBOX, {"before": first.context["next_before"]})

    shown = [g.latest.link for g in first.context["items"] + second.context["items"]]
    assert shown == list(reversed(links))
    assert all(g.count == 2 for g in first.context["items"])
    assert second.context["next_before"] is None


def test_the_grouped_page_runs_a_fixed_number_of_queries(login, manager, django_assert_max_num_queries):
    for n in range(30):
        for _ in range(3):
            NotificationFactory(recipient=manager, link=f"/tickets/GD{n:04d}/")
    client = login(manager)

    with django_assert_max_num_queries(6):
        assert client.get(INBOX).status_code == 200


def test_viewing_a_group_marks_all_its_messages_read(login, manager, colleague):
    order = "/tickets/GD202611200001/"
    mine = [NotificationFactory(recipient=manager, link=order) for _ in range(3)]
    elsewhere = NotificationFactory(recipient=manager, link="/tickets/GD202611200002/")
    theirs = NotificationFactory(recipient=colleague, link=order)

    response = login(manager).post(read_url(mine[-1]), {"next": order, "group": "1"})

    assert response.url == order
    assert not Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).exists()
    for row in (elsewhere, theirs):
        row.refresh_from_db()
        assert row.read_at is None


def test_a_group_without_a_link_is_the_message_alone(login, manager):
    alone = NotificationFactory(recipient=manager)
    other = NotificationFactory(recipient=manager)

    login(manager).post(read_url(alone), {"group": "1"})

    alone.refresh_from_db()
    other.refresh_from_db()
    assert alone.read_at is not None and other.read_at is None


def test_someone_elses_group_answers_404(login, manager, colleague):
    notification = NotificationFactory(recipient=manager, link="/tickets/GD202611200001/")

    response = login(colleague).post(read_url(notification), {"group": "1"})

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None
