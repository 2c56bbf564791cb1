import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.text import NOTE_LENGTH, limited
from notifications.sms_kinds import SmsKind, SmsProvider


class NotificationQuerySet(models.QuerySet):
    def due(self, now=None) -> "NotificationQuerySet":
        """Rows a delivery worker may claim: pending and due, or claimed by a
        worker whose lease ran out (it died mid-send)."""
        now = now or timezone.now()
        return self.filter(
            Q(status=Notification.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Notification.Status.SENDING, lease_expires_at__lt=now)
        )

    def inbox_of(self, user) -> "NotificationQuerySet":
        return self.filter(recipient=user, channel=Notification.Channel.IN_APP)

    def unread(self) -> "NotificationQuerySet":
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message to one recipient through one channel: the outbox row.

    Written in the same transaction as the change that causes it; a Celery
    task claims due rows, sends them and marks them. `dedupe_key` is unique,
    so a rescan that decides the same reminder again writes nothing.
    """

    class Channel(models.TextChoices):
        IN_APP = "inapp", _("站内消息")
        EMAIL = "email", _("电子邮件")
        WECOM = "wecom", _("企业微信群机器人")
        SMS = "sms", _("短信")
        WECOM_APP = "wecomapp", _("企业微信应用消息")

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")
        SKIPPED = "skipped", _("渠道未配置")
        # The message must not go out any more (e.g. a start notice after restoration):
        # final, never retried.
        WITHDRAWN = "withdrawn", _("已撤回")

    class DeliveryStatus(models.TextChoices):
        # What the SMS provider says became of a sent message ("" for channels without receipts).
        NONE = "", _("不适用")
        SUBMITTED = "submitted", _("已提交")
        DELIVERED = "delivered", _("已送达")
        FAILED = "failed", _("发送失败")

    # Few indexes: a fan-out writes tens of thousands of rows at once. The recipient is
    # found through notification_inbox (it leads with it); the template kind is never
    # searched; the provider's message id by equality only (no LIKE index).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
    )
    # For recipients who are not users (a customer's contact, a group robot):
    # the phone number, e-mail address or webhook URL to send to.
    address = models.CharField(_("发送地址"), max_length=500, blank=True)
    recipient_label = models.CharField(_("接收方"), max_length=100, blank=True)
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices, default=Channel.IN_APP)
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=300, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=200, unique=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), default=timezone.now)
    lease_expires_at = models.DateTimeField(_("占用到期"), null=True, blank=True)
    claim_token = models.UUIDField(_("占用标记"), null=True, blank=True)
    # Set by the worker just before the network call: a claimed row not started yet
    # can still be withdrawn; one started is beyond recall.
    send_started_at = models.DateTimeField(_("开始发送时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    # SMS: the approved template (kind and its parameters) the provider sends.
    template_kind = models.SlugField(
        _("短信模板类型"), max_length=40, blank=True, choices=SmsKind.choices, db_index=False
    )
    template_params = models.JSONField(_("模板参数"), default=dict, blank=True)
    # An advance notice: an SMS due in SMS_QUIET_HOURS waits for the end of the window.
    quiet = models.BooleanField(_("避开免打扰时段"), default=False)
    # SMS delivery as the provider reports it: submitted on send, delivered or
    # failed when its receipt arrives (a failed receipt is final).
    provider = models.CharField(_("短信服务商"), max_length=10, blank=True, choices=SmsProvider.choices)
    provider_message_id = models.CharField(_("服务商消息编号"), max_length=64, blank=True)
    delivery_status = models.CharField(
        _("送达状态"), max_length=10, blank=True, default="", choices=DeliveryStatus.choices
    )
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    delivery_error = models.CharField(_("送达错误码"), max_length=64, blank=True)
    # The provider's report time of the receipt applied, so an older receipt arriving late loses.
    delivery_reported_at = models.DateTimeField(_("回执时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        # Partial where a fan-out's rows hold nothing to find: an SMS or e-mail to a
        # customer has no recipient user, no claim until a worker takes it, and no
        # provider message id until the provider accepts it.
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
            models.Index(
                fields=["recipient", "channel", "read_at"],
                condition=Q(recipient__isnull=False),
                name="notification_inbox",
            ),
            models.Index(
                fields=["claim_token"], condition=Q(claim_token__isnull=False), name="notification_claim"
            ),
            # Only rows a provider has answered: the rest (most of a fan-out's) have none yet.
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="notification_provider_accepted",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class SmsTemplate(models.Model):
    """A template the SMS provider approved for one kind of message.

    The provider only sends text that follows an approved template, so an SMS
    row names its kind and parameters and the provider's backend looks up the
    active template for (provider, kind) here.
    """

    provider = models.CharField(_("短信服务商"), max_length=10, choices=SmsProvider.choices)
    kind = models.SlugField(_("短信模板类型"), max_length=40, choices=SmsKind.choices)
    template_code = models.CharField(
        _("模板编号"), max_length=64, help_text=_("服务商审核通过的模板 ID，如 SMS_123456789 或 1234567")
    )
    param_names = models.JSONField(
        _("参数名称"), default=list, blank=True, help_text=_("按模板中出现的顺序排列")
    )
    sample_text = models.TextField(_("示例内容"), blank=True, **limited(NOTE_LENGTH))
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("短信模板")
        verbose_name_plural = _("短信模板")
        ordering = ["provider", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "kind"], name="sms_template_provider_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} · {self.get_kind_display()}"

    def clean(self) -> None:
        """Parameter names are identifiers, each once; the sample's placeholders match them
        (Aliyun writes ${name}, Tencent numbers them {1}, {2}, …)."""
        names = self.param_names
        if not isinstance(names, list) or not all(
            isinstance(n, str) and _PARAM_NAME.fullmatch(n) for n in names
        ):
            raise ValidationError({"param_names": _("参数名称须为字母开头的英文标识符，例如 area、start。")})
        if len(set(names)) != len(names):
            raise ValidationError({"param_names": _("参数名称不能重复。")})
        if self.provider == SmsProvider.ALIYUN:
            used = re.findall(r"\$\{(\w+)\}", self.sample_text)
            if used and set(used) != set(names):
                raise ValidationError({"sample_text": _("示例内容中的 ${变量} 须与参数名称一致。")})
        elif self.provider == SmsProvider.TENCENT:
            used = re.findall(r"\{(\d+)\}", self.sample_text)
            if used and sorted({int(n) for n in used}) != list(range(1, len(names) + 1)):
                raise ValidationError({"sample_text": _("示例内容中的 {1}、{2}… 须与参数个数一致。")})


_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class DigestEntry(models.Model):
    """One line waiting for its recipient's next digest (e.g. an escalation for a supervisor).

    Alerts that would otherwise arrive one by one are written here and sent
    as one outbox row per recipient and interval (notifications.digests); the
    row that carried a line is `notification` (null while it waits).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        on_delete=models.CASCADE,
        related_name="digest_entries",
    )
    topic = models.SlugField(_("汇总类型"), max_length=40)
    # The key the alert would have had as a message of its own: a rescan adds nothing.
    dedupe_key = models.CharField(_("去重键"), max_length=200, unique=True)
    subject = models.CharField(_("内容"), max_length=200)
    link = models.CharField(_("链接"), max_length=300, blank=True)
    notification = models.ForeignKey(
        Notification,
        verbose_name=_("汇总消息"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="digest_entries",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("待汇总提醒")
        verbose_name_plural = _("待汇总提醒")
        ordering = ["id"]
        indexes = [
            # The digest run reads the waiting lines in id order.
            models.Index(fields=["id"], condition=Q(notification__isnull=True), name="digest_entry_waiting"),
        ]

    def __str__(self) -> str:
        return self.subject
