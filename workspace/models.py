from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DashboardOpening(models.Model):
    """A supervisor opened the dashboard for a period, in a language: the scopes the
    warming task keeps computed, so that the next look never waits on a cold cache."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE)
    period_query = models.CharField(_("期间参数"), max_length=200)
    language = models.CharField(_("语言"), max_length=16)
    opened_at = models.DateTimeField(_("最近打开"), db_index=True)

    class Meta:
        verbose_name = _("看板打开记录")
        verbose_name_plural = _("看板打开记录")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period_query", "language"], name="dashboard_opening_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.period_query} {self.language}"
