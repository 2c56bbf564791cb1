from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotentRequest(models.Model):
    """The first response to an API request sent with an `Idempotency-Key` header (see core.api.idempotency).

    A row exists only for a request whose work committed: it is written in the
    same transaction as that work, so "applied" and "remembered" cannot part.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        on_delete=models.CASCADE,
        related_name="idempotent_requests",
    )
    key = models.CharField(_("幂等键"), max_length=255)
    method = models.CharField(_("请求方法"), max_length=8)
    path = models.CharField(_("请求路径"), max_length=255)
    # SHA-256 of method, path and the request body as parsed JSON (key order ignored).
    fingerprint = models.CharField(_("请求指纹"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("响应状态码"))
    response_body = models.JSONField(_("响应内容"), null=True, blank=True)
    response_headers = models.JSONField(_("响应头"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        # The table keeps the name it had when the model lived in the crm app.
        db_table = "crm_idempotentrequest"
        verbose_name = _("幂等请求")
        verbose_name_plural = _("幂等请求")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotent_request_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"


class PeriodicRun(models.Model):
    """The last run of one periodic task (a task of the beat schedule), written by the
    worker through Celery's signals (core/runs.py): when it last started, ended,
    succeeded, and how it ended. The operations page and the watchdog read it."""

    class Outcome(models.TextChoices):
        RUNNING = "running", _("运行中")
        SUCCESS = "success", _("成功")
        FAILURE = "failure", _("失败")

    task = models.CharField(_("任务"), max_length=200, unique=True)
    last_started_at = models.DateTimeField(_("最近开始"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("最近结束"), null=True, blank=True)
    last_succeeded_at = models.DateTimeField(_("最近成功"), null=True, blank=True)
    last_outcome = models.CharField(_("最近结果"), max_length=8, choices=Outcome.choices, blank=True)
    # The exception's class and a short message; never task arguments.
    last_error = models.CharField(_("最近错误"), max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("连续失败次数"), default=0)
    # Since when the task is watched: a task that never succeeded is late counted from here.
    created_at = models.DateTimeField(_("记录开始"), auto_now_add=True)

    class Meta:
        verbose_name = _("定时任务运行")
        verbose_name_plural = _("定时任务运行")
        ordering = ["task"]

    def __str__(self) -> str:
        return self.task


class OpsIncident(models.Model):
    """A problem the watchdog found (a stalled scan, a backlog), open until it is healthy again.

    At most one open incident per key: the people on call are told when it
    opens and when it closes, and nothing in between.
    """

    key = models.CharField(_("问题标识"), max_length=200)
    summary = models.CharField(_("说明"), max_length=500)
    opened_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    # When at least one channel took the opening alert; empty means "try again".
    alerted_at = models.DateTimeField(_("告警时间"), null=True, blank=True)
    alert_channels = models.CharField(_("告警渠道"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("运行告警")
        verbose_name_plural = _("运行告警")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(closed_at__isnull=True),
                name="ops_incident_one_open_per_key",
            ),
        ]

    def __str__(self) -> str:
        return self.summary
