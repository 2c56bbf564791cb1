"""The status page (admin: 企业微信连接状态) and `wecom.status.mark`."""

from datetime import datetime

import pytest
from django.urls import reverse

from wecom import status
from wecom.client import WeComClient
from wecom.models import CallbackEvent, StatusMark

pytestmark = pytest.mark.django_db

URL = reverse("admin:wecom_statusmark_changelist")


def test_it_shows_the_connection_to_an_administrator(
    login, admin_user, wecom_sandbox, django_assert_max_num_queries
):
    WeComClient.contact().access_token()
    status.mark("reconcile", at=datetime(2026, 12, 1, 8, 0), groups=42)
    status.mark("archive", seq=1234)
    status.mark_error("reconcile", "errcode 40050")
    client = login(admin_user)
    with django_assert_max_num_queries(12):
        response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "wwsandboxcorp" in page
    assert "已缓存" in page  # the contact token
    assert "未缓存" in page  # the agent token, never fetched
    assert "42" in page and "1234" in page and "errcode 40050" in page


def test_it_says_when_wecom_is_not_configured(login, admin_user, settings):
    settings.WECOM_CORP_ID = ""
    response = login(admin_user).get(URL)
    assert response.status_code == 200
    assert "未配置" in response.content.decode()


def test_it_is_refused_to_others(client, login, manager, supervisor):
    response = login(manager).get(URL)
    assert response.status_code == 302 and "/admin/login/" in response.url
    client.logout()
    assert client.get(URL).status_code == 302


def test_marks_replace_their_values(db):
    status.mark("archive", seq=1)
    status.mark("archive", seq=2)
    assert StatusMark.objects.get(key="archive").values == {"seq": 2}
    with pytest.raises(ValueError):
        status.mark("", seq=1)


def test_callback_events_are_listed_read_only(login, admin_user, django_assert_max_num_queries):
    for number in range(3):
        CallbackEvent.objects.create(
            dedupe_key=f"k{number}", event="change_external_chat", change_type="update"
        )
    client = login(admin_user)
    url = reverse("admin:wecom_callbackevent_changelist")
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    assert "change_external_chat" in response.content.decode()
    event = CallbackEvent.objects.first()
    page = client.get(reverse("admin:wecom_callbackevent_change", args=[event.pk]))
    assert page.status_code == 200 and 'type="submit" value="保存"' not in page.content.decode()
    assert client.get(reverse("admin:wecom_callbackevent_add")).status_code == 403


def test_failed_events_can_be_processed_again(login, admin_user):
    failed = CallbackEvent.objects.create(dedupe_key="f", event="x", status="failed", attempts=5)
    done = CallbackEvent.objects.create(dedupe_key="d", event="x", status="done")
    response = login(admin_user).post(
        reverse("admin:wecom_callbackevent_changelist"),
        {"action": "retry_now", "_selected_action": [failed.pk, done.pk]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.attempts, done.status) == ("pending", 0, "done")
