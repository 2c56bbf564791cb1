"""SMS templates and delivery state in the admin; phone numbers stay masked."""

import pytest
from django.urls import reverse

from notifications.models import Notification, SmsTemplate
from notifications.sms_kinds import SMS_KIND_PARAMS, SmsKind
from tests.factories import NotificationFactory

NOTIFICATIONS = reverse("admin:notifications_notification_changelist")
TEMPLATES = reverse("admin:notifications_smstemplate_changelist")
ADD_TEMPLATE = reverse("admin:notifications_smstemplate_add")
MOBILE = "13885550001"


def test_every_kind_has_a_sample_template_on_both_providers(db):
    samples = SmsTemplate.objects.filter(provider__in=["aliyun", "tencent"])
    assert {(t.provider, t.kind) for t in samples} == {
        (provider, kind) for provider in ("aliyun", "tencent") for kind in SmsKind.values
    }
    for template in samples:
        assert tuple(template.param_names) == SMS_KIND_PARAMS[template.kind]
        template.full_clean()  # the samples' placeholders match their parameters


def test_an_administrator_adds_a_template_with_ordered_parameters(login, admin_user):
    SmsTemplate.objects.filter(provider="aliyun", kind="outage_delay").delete()

    response = login(admin_user).post(
        ADD_TEMPLATE,
        {
            "provider": "aliyun",
            "kind": "outage_delay",
            "template_code": "SMS_476120033",
            "param_names": "area，restore",
            "sample_text": "尊敬的客户：${area}停电延时，预计${restore}恢复供电。",
            "active": "on",
        },
    )

    assert response.status_code == 302
    template = SmsTemplate.objects.get(provider="aliyun", kind="outage_delay")
    assert (template.template_code, template.param_names) == ("SMS_476120033", ["area", "restore"])


@pytest.mark.parametrize(
    ("provider", "kind", "names", "sample", "field"),
    [
        ("aliyun", "outage_delay", "area, 2restore", "", "param_names"),
        ("aliyun", "outage_delay", "area, area", "", "param_names"),
        ("aliyun", "outage_delay", "area, restore", "${area}延时，预计${time}恢复。", "sample_text"),
        ("tencent", "outage_delay", "area, restore", "{1}延时，预计{2}恢复，{3}", "sample_text"),
        (
            "aliyun",
            "outage_start",
            "area, restore",
            "",
            "__all__",
        ),  # the sample for (aliyun, outage_start) exists
    ],
)
def test_a_bad_template_is_refused_with_the_field_named(
    login, admin_user, provider, kind, names, sample, field
):
    SmsTemplate.objects.filter(provider=provider, kind="outage_delay").delete()
    before = set(SmsTemplate.objects.values_list("pk", "template_code"))

    response = login(admin_user).post(
        ADD_TEMPLATE,
        {
            "provider": provider,
            "kind": kind,
            "template_code": "X1",
            "param_names": names,
            "sample_text": sample,
        },
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert set(SmsTemplate.objects.values_list("pk", "template_code")) == before


def test_the_template_list_opens(login, admin_user, django_assert_max_num_queries):
    client = login(admin_user)
    with django_assert_max_num_queries(8):
        response = client.get(TEMPLATES)
    assert response.status_code == 200
    assert "SMS_900000001" in response.content.decode()


def test_the_outbox_shows_delivery_state_with_the_phone_masked(
    login, admin_user, django_assert_max_num_queries
):
    for index in range(20):
        NotificationFactory(
            recipient=None,
            channel=Notification.Channel.SMS,
            address=MOBILE,
            status=Notification.Status.SENT,
            provider="aliyun",
            provider_message_id=f"biz-{index}",
            delivery_status=Notification.DeliveryStatus.DELIVERED,
        )
    client = login(admin_user)

    with django_assert_max_num_queries(8):
        page = client.get(NOTIFICATIONS, {"delivery_status__exact": "delivered"}).content.decode()
    row = Notification.objects.first()
    detail = client.get(reverse("admin:notifications_notification_change", args=[row.pk])).content.decode()

    assert "138****0001" in page and "已送达" in page and "阿里云短信" in page
    assert MOBILE not in page
    assert "138****0001" in detail and "biz-" in detail
    assert MOBILE not in detail


def test_an_account_manager_cannot_open_the_template_admin(login, manager):
    assert login(manager).get(TEMPLATES).status_code == 302


def test_retry_now_clears_a_failed_send_but_never_a_failed_receipt(login, admin_user):
    not_sent = NotificationFactory(
        recipient=None,
        channel=Notification.Channel.SMS,
        address=MOBILE,
        status=Notification.Status.FAILED,
        delivery_status=Notification.DeliveryStatus.FAILED,
        delivery_error="isv.SMS_TEMPLATE_ILLEGAL",
    )
    not_delivered = NotificationFactory(
        recipient=None,
        channel=Notification.Channel.SMS,
        address=MOBILE,
        status=Notification.Status.SENT,
        delivery_status=Notification.DeliveryStatus.FAILED,
        delivery_error="MK:0001",
    )

    login(admin_user).post(
        NOTIFICATIONS, {"action": "retry_now", "_selected_action": [not_sent.pk, not_delivered.pk]}
    )

    not_sent.refresh_from_db()
    not_delivered.refresh_from_db()
    assert (not_sent.status, not_sent.delivery_status, not_sent.delivery_error) == ("pending", "", "")
    assert (not_delivered.status, not_delivered.delivery_status) == ("sent", "failed")
