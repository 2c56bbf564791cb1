"""The group page says what the CRM does with a reply: it never sends it; the chat archive,
or the user recording it by hand, marks the inquiry answered."""

import pytest
from django.urls import reverse

from groups.models import GroupMessage

MANUAL_LABEL = "手工登记客户消息（未接入会话存档时使用）"
RECORD_BUTTON = "已在群内发送，记录回复"


def detail(client, group):
    response = client.get(reverse("groups:detail", args=[group.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_with_the_archive_the_reply_box_copies_the_text_and_the_archive_marks_the_answer(
    login, manager, group, member, settings, django_assert_max_num_queries
):
    settings.WECOM_ARCHIVE_SOURCE = "spool"
    client = login(manager)
    with django_assert_max_num_queries(30):
        html = detail(client, group)

    assert "本系统不会代发消息" in html and "会话存档读到您在群里的回复后" in html
    assert 'data-copy="reply-text"' in html and "复制回复内容" in html
    assert RECORD_BUTTON not in html and "发送回复" not in html
    assert MANUAL_LABEL in html and "只在存档遗漏时手工登记" in html


def test_without_the_archive_the_reply_is_copied_then_recorded_by_hand(
    login, manager, group, member, ask, settings
):
    settings.WECOM_ARCHIVE_SOURCE = "none"
    inquiry = ask()
    client = login(manager)
    html = detail(client, group)

    assert "本系统不会代发消息" in html and RECORD_BUTTON in html and "复制回复内容" in html
    assert "发送回复" not in html and MANUAL_LABEL in html

    response = client.post(
        reverse("groups:reply", args=[group.pk]), {"inquiry": inquiry.pk, "text": "正在处理。"}, follow=True
    )
    assert "已记录您在群内发出的回复，1 条咨询标记为已回复。" in response.content.decode()
    inquiry.refresh_from_db()
    assert inquiry.answered_at is not None


def test_a_recalled_message_shows_as_withdrawn(login, manager, group, ask):
    inquiry = ask()
    GroupMessage.objects.filter(pk=inquiry.pk).update(recalled_at=inquiry.sent_at)
    assert "已撤回" in detail(login(manager), group)


@pytest.mark.parametrize("archive", ["none", "spool"])
def test_an_outsider_gets_404_for_the_group_page(login, outsider, group, settings, archive):
    settings.WECOM_ARCHIVE_SOURCE = archive
    response = login(outsider).get(reverse("groups:detail", args=[group.pk]))
    assert response.status_code == 404


def test_the_broadcast_preview_does_not_promise_sending(login, manager, group):
    data = {
        "topic": "safety",
        "title": "冬季安全用电",
        "body": "取暖设备请勿长时间无人看管。",
        "groups": [group.pk],
    }
    client = login(manager)
    html = client.post(reverse("groups:broadcast_create"), {**data, "preview": "1"}).content.decode()

    assert "发送到" not in html
    assert "记入 1 个客户群的消息记录（本系统不代发，请群负责人在企业微信群里发出）" in html
    response = client.post(reverse("groups:broadcast_create"), {**data, "save": "1"}, follow=True)
    assert "已发布到" not in response.content.decode()
    assert "本系统不代发，请在企业微信群里发出" in response.content.decode()
