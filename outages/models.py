from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit
from accounts.scoping import ScopedQuerySet
from customers.models import Customer, District, Line


class OutageKind(models.TextChoices):
    PLANNED = "planned", _("计划停电")
    FAULT = "fault", _("故障停电")
    TEMPORARY = "temporary", _("临时停电")


class OutageStatus(models.TextChoices):
    PLANNED = "planned", _("已计划")
    # Published: the notices are planned. Whether customers were told is
    # measured by reach (outages.selectors.reach_summary), never assumed here.
    PUBLISHED = "published", _("已发布")
    ONGOING = "ongoing", _("停电中")
    RESTORED = "restored", _("已恢复")
    CANCELLED = "cancelled", _("已取消")


class OutageQuerySet(ScopedQuerySet):
    scope_owner_field = "created_by"
    scope_unit_field = "org_unit"

    def also_visible_to(self, user) -> Q:
        """An account manager sees every outage over a district they manage,
        named directly or through its line, whoever registered it."""
        return Q(
            pk__in=Outage.districts.through.objects.filter(district__manager=user).values("outage_id")
        ) | Q(pk__in=Outage.lines.through.objects.filter(line__districts__manager=user).values("outage_id"))


class Outage(models.Model):
    kind = models.CharField(_("停电类型"), max_length=16, choices=OutageKind.choices)
    reason = models.CharField(_("停电原因"), max_length=255)
    lines = models.ManyToManyField(Line, verbose_name=_("停电线路"), blank=True, related_name="outages")
    districts = models.ManyToManyField(
        District, verbose_name=_("停电台区"), blank=True, related_name="outages"
    )
    planned_start = models.DateTimeField(_("计划开始时间"), null=True, blank=True)
    planned_end = models.DateTimeField(_("计划结束时间"), null=True, blank=True)
    actual_start = models.DateTimeField(_("实际开始时间"), null=True, blank=True)
    actual_end = models.DateTimeField(_("实际恢复时间"), null=True, blank=True)
    estimated_restoration = models.DateTimeField(_("预计恢复时间"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=OutageStatus.choices, default=OutageStatus.PLANNED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="outages",
    )
    org_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="outages"
    )
    external_id = models.CharField(_("外部编号"), max_length=64, null=True, blank=True, unique=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    long_outage_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = OutageQuerySet.as_manager()

    class Meta:
        verbose_name = _("停电")
        verbose_name_plural = _("停电")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "kind"], name="outage_status_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.reason}"

    @property
    def start(self):
        return self.actual_start or self.planned_start


class AffectedCustomer(models.Model):
    """Who was affected, frozen when the outage is published."""

    outage = models.ForeignKey(
        Outage, verbose_name=_("停电"), on_delete=models.CASCADE, related_name="affected"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="outages_affected"
    )
    sensitive = models.BooleanField(_("敏感客户"), default=False)

    class Meta:
        verbose_name = _("受影响客户")
        verbose_name_plural = _("受影响客户")
        constraints = [
            models.UniqueConstraint(fields=["outage", "customer"], name="affected_outage_customer"),
        ]
        # Partial: the keyset over all of an outage's customers (outage, customer > n) can only
        # take the unique (outage, customer) index, whatever the statistics say.
        indexes = [
            models.Index(
                fields=["outage", "customer"], condition=Q(sensitive=True), name="affected_outage_sensitive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.outage_id} · {self.customer_id}"


class NoticeQuerySet(models.QuerySet):
    def due(self, now) -> "NoticeQuerySet":
        return self.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            due_at__lte=now,
            fanned_out_at__isnull=True,
            cancelled_at__isnull=True,
        )


class OutageNotice(models.Model):
    ADVANCE_7D = "advance-7d"
    ADVANCE_1D = "advance-1d"
    START = "start"
    RESTORED = "restored"
    CANCELLED = "cancelled"

    outage = models.ForeignKey(
        Outage, verbose_name=_("停电"), on_delete=models.CASCADE, related_name="notices"
    )
    kind = models.CharField(_("通知类型"), max_length=16)
    due_at = models.DateTimeField(_("计划发送时间"))
    fanned_out_at = models.DateTimeField(_("已发出时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    personal_count = models.PositiveIntegerField(_("一对一通知数"), default=0)
    broadcast_count = models.PositiveIntegerField(_("群发数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = _("停电通知")
        verbose_name_plural = _("停电通知")
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["outage", "kind"], name="notice_outage_kind")]
        indexes = [models.Index(fields=["fanned_out_at", "due_at"], name="notice_pending_due")]

    def __str__(self) -> str:
        return f"{self.outage_id} · {self.kind_label}"

    @property
    def kind_label(self) -> str:
        labels = {
            self.ADVANCE_7D: _("提前7天通知"),
            self.ADVANCE_1D: _("提前1天通知"),
            self.START: _("停电开始通知"),
            self.RESTORED: _("恢复送电通知"),
            self.CANCELLED: _("取消停电通知"),
        }
        if self.kind.startswith("delay-"):
            return str(_("延迟恢复通知（第%(n)s次）") % {"n": self.kind.removeprefix("delay-")})
        if self.kind.startswith("advance-"):
            return self._advance_label(labels)
        return str(labels.get(self.kind, self.kind))

    def _advance_label(self, labels) -> str:
        """ "提前1天通知" only when it goes out a day ahead; a notice published late
        says how far ahead it really is: "提前通知（计划停电前 10 小时）"."""
        start = self.outage.planned_start
        days = self.kind.removeprefix("advance-").removesuffix("d")
        if start is None or not days.isdigit():
            return str(labels.get(self.kind, _("提前通知")))
        ahead = start - self.due_at
        if abs(ahead.total_seconds() - int(days) * 86400) < 3600:
            return str(labels.get(self.kind, _("提前%(days)s天通知") % {"days": days}))
        hours = max(round(ahead.total_seconds() / 3600), 0)
        if hours >= 48:
            return str(_("提前通知（计划停电前 %(days)s 天）") % {"days": hours // 24})
        return str(_("提前通知（计划停电前 %(hours)s 小时）") % {"hours": hours})

    @property
    def dedupe_prefix(self) -> str:
        return f"outage:{self.outage_id}:notice:{self.kind}:"


class OutageBroadcast(models.Model):
    """The one broadcast a notice sent to one service group."""

    notice = models.ForeignKey(
        OutageNotice, verbose_name=_("停电通知"), on_delete=models.CASCADE, related_name="broadcasts"
    )
    group = models.ForeignKey(
        "groups.ServiceGroup", verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="+"
    )
    broadcast = models.ForeignKey(
        "groups.Broadcast", verbose_name=_("群发"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("停电群发")
        verbose_name_plural = _("停电群发")
        constraints = [models.UniqueConstraint(fields=["notice", "group"], name="outage_broadcast_once")]

    def __str__(self) -> str:
        return f"{self.notice_id} · {self.group_id}"


class OutageComplaint(models.Model):
    """A 停电-category work order of an affected customer, opened during the outage."""

    outage = models.ForeignKey(
        Outage, verbose_name=_("停电"), on_delete=models.CASCADE, related_name="complaints"
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("工单"), on_delete=models.CASCADE, related_name="outage_links"
    )
    linked_at = models.DateTimeField(_("关联时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("停电投诉")
        verbose_name_plural = _("停电投诉")
        constraints = [models.UniqueConstraint(fields=["outage", "ticket"], name="outage_complaint_once")]

    def __str__(self) -> str:
        return f"{self.outage_id} · {self.ticket_id}"
