from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
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
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), default=timezone.now)
    lease_expires_at = models.DateTimeField(_("占用到期"), null=True, blank=True)
    claim_token = models.UUIDField(_("占用标记"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox"),
            models.Index(fields=["claim_token"], name="notification_claim"),
        ]

    def __str__(self) -> str:
        return self.subject
