from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CallbackEventQuerySet(models.QuerySet):
    def due(self, now=None) -> "CallbackEventQuerySet":
        """Events a worker may take: pending and due, or taken by a worker whose lease ran out."""
        now = now or timezone.now()
        return self.filter(
            Q(status=CallbackEvent.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=CallbackEvent.Status.PROCESSING, lease_expires_at__lt=now)
        )


class CallbackEvent(models.Model):
    """One event WeCom posted to /wecom/callback/, stored before it is answered.

    `dedupe_key` is a hash of the decrypted message, so WeCom's retry of a
    callback it thinks we missed stores nothing new. A Celery task hands the
    row to the handlers the apps above registered (wecom/events.py).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待处理")
        PROCESSING = "processing", _("处理中")
        DONE = "done", _("已处理")
        IGNORED = "ignored", _("已忽略")
        FAILED = "failed", _("处理失败")

    dedupe_key = models.CharField(_("去重键"), max_length=64, unique=True)
    event = models.CharField(_("事件"), max_length=64)
    change_type = models.CharField(_("变更类型"), max_length=64, blank=True)
    # The decrypted message's fields (lists for repeated <Item>s), not the XML.
    payload = models.JSONField(_("内容"), default=dict)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("处理次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次处理时间"), default=timezone.now)
    lease_expires_at = models.DateTimeField(_("占用到期"), null=True, blank=True)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=200, blank=True)

    objects = CallbackEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("企业微信回调事件")
        verbose_name_plural = _("企业微信回调事件")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="wecom_callback_due")]

    def __str__(self) -> str:
        return f"{self.event}/{self.change_type}" if self.change_type else self.event


class StatusMark(models.Model):
    """The last word on one part of the WeCom connection (reconcile, archive, error ...).

    Written through `wecom.status.mark(key, **values)`; the status page shows them all.
    """

    key = models.CharField(_("项目"), max_length=32, unique=True)
    values = models.JSONField(_("内容"), default=dict)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("企业微信连接状态")
        verbose_name_plural = _("企业微信连接状态")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
