from django.conf import settings
from django.db import models
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
