from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models import OrgUnit
from accounts.scoping import ScopedQuerySet
from core.lookups import AnyOf
from core.text import NOTE_LENGTH, TEXT_LENGTH, limited
from customers.models import Customer


class Kind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    REPAIR = "repair", _("报修")
    EXPANSION = "expansion", _("业扩报装")
    INQUIRY = "inquiry", _("咨询")
    SUGGESTION = "suggestion", _("意见建议")
    PRAISE = "praise", _("表扬")


class Category(models.TextChoices):
    ATTITUDE = "attitude", _("服务态度")
    SUPPLY_QUALITY = "supply_quality", _("供电质量")
    OUTAGE = "outage", _("停电")
    SAFETY = "safety", _("安全用电")
    EXPANSION = "expansion", _("业扩报装")
    BILLING = "billing", _("电费电价")
    METERING = "metering", _("计量")
    OTHER = "other", _("其他")


class Source(models.TextChoices):
    HOTLINE_95598 = "95598", _("95598")
    HOTLINE_12345 = "12345", _("12345政务热线")
    WECHAT_GROUP = "wechat_group", _("微信群")
    WECHAT_PRIVATE = "wechat_private", _("微信私聊")
    SERVICE_HALL = "hall", _("营业厅")
    PHONE = "phone", _("电话")
    VISIT = "visit", _("上门")


class Urgency(models.IntegerChoices):
    NORMAL = 0, _("普通")
    URGENT = 1, _("紧急")
    CRITICAL = 2, _("特急")


class Status(models.TextChoices):
    NEW = "new", _("新建/受理")
    DISPATCHED = "dispatched", _("已派单")
    SIGNED = "signed", _("已签收")
    IN_PROGRESS = "in_progress", _("处理中")
    RETURNED = "returned", _("已退回")
    RESOLVED = "resolved", _("已办结")
    VISITED = "visited", _("已回访")
    ARCHIVED = "archived", _("已归档")


# The 5W1H fields of a complaint analysis (seed 004 §2.2(2)).
FIVE_W_ONE_H = ("why", "what", "who", "when", "where", "how")
# The text of an order its handler or a supervisor may correct after it is opened (修改).
TICKET_EDITABLE_FIELDS = ("title", "description", "contact_name", "contact_phone", *FIVE_W_ONE_H)

# Statuses in which the order still runs against its resolve deadline.
OPEN_STATUSES = (Status.NEW, Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS, Status.RETURNED)
# Statuses in which nobody has signed for the order yet.
UNSIGNED_STATUSES = (Status.NEW, Status.DISPATCHED, Status.RETURNED)


class SlaPolicy(models.Model):
    """How long an order may take, by kind, category and urgency.

    Blank kind/category and a null urgency match anything; the most specific
    active policy wins (see tickets.sla.policy_for). Service runs 24 hours a
    day, every day (seed 001 §7(5)), so durations are wall-clock minutes.
    """

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("工单类型"), max_length=16, choices=Kind.choices, blank=True)
    category = models.CharField(_("业务分类"), max_length=16, choices=Category.choices, blank=True)
    urgency = models.PositiveSmallIntegerField(_("紧急程度"), choices=Urgency.choices, null=True, blank=True)
    sensitive_only = models.BooleanField(
        _("仅适用于敏感/VIP客户"), default=False, help_text=_("为高敏、重要、VIP等客户设定更严格的时限。")
    )
    sign_minutes = models.PositiveIntegerField(_("签收时限(分钟)"))
    resolve_minutes = models.PositiveIntegerField(_("办结时限(分钟)"))
    warn_percent = models.PositiveSmallIntegerField(
        _("预警点(%)"), default=80, help_text=_("已用时限达到该比例时提醒“即将超时”。")
    )
    return_visit_hours = models.PositiveIntegerField(_("回访时限(小时)"), default=24)
    escalation_minutes = models.PositiveIntegerField(
        _("升级间隔(分钟)"),
        null=True,
        blank=True,
        help_text=_("超时后每隔多久再升一级；留空为办结时限的一半，至少60分钟。"),
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("时限策略")
        verbose_name_plural = _("时限策略")
        ordering = ["kind", "category", "urgency"]

    def __str__(self) -> str:
        return self.name


class TicketQuerySet(ScopedQuerySet):
    scope_owner_field = "assignee"
    scope_unit_field = "org_unit"

    def also_visible_to(self, user) -> Q:
        """The customer's own account manager and the tracker of a transfer
        keep seeing an order that moved to another unit."""
        # AnyOf, not a join to the customer nor EXISTS: inside the scope's OR they kept
        # PostgreSQL from every index, and it merged all the orders with all the customers
        # (2.7 s to count a manager's orders among a prefecture's million).
        customers = Customer._base_manager.filter(manager=user).values("pk")
        tracked = Transfer.objects.filter(tracker=user).order_by().values("ticket_id")
        return Q(AnyOf("customer_id", customers)) | Q(AnyOf("pk", tracked))

    def open(self) -> "TicketQuerySet":
        return self.filter(status__in=OPEN_STATUSES)

    def overdue(self, now=None) -> "TicketQuerySet":
        return self.open().filter(overdue_q(now or timezone.now()))

    def near_deadline(self, now=None) -> "TicketQuerySet":
        """Past the warning point of a running deadline, not yet overdue."""
        now = now or timezone.now()
        return self.open().filter(near_deadline_q(now) & ~overdue_q(now))


def overdue_q(now) -> Q:
    """An open order past its running deadline: the resolving one, or the signing
    one while unsigned (attention_due_at is the earlier of the two)."""
    return Q(attention_due_at__lte=now)


def near_deadline_q(now) -> Q:
    """An open order past the warning point of a running deadline (it may be
    overdue too: callers that mean "near, not yet overdue" exclude overdue_q)."""
    return Q(attention_warn_at__lte=now)


# An open order without a running deadline sorts after every one with a deadline.
# Text, not a datetime, because generated-column SQL holds it as a literal.
NO_DEADLINE_TEXT = "9000-01-01 00:00:00+00:00"


def _first_running(sign_field: str, resolve_field: str) -> models.Case:
    """The earlier of the signing moment (while unsigned) and the resolving one,
    for open orders; NO_DEADLINE_TEXT when neither is set, NULL when closed.
    `moment <= now` is then "overdue" over the due columns and "past the
    warning point" over the warning columns (overdue_q, near_deadline_q)."""
    sign_first = Q(status__in=UNSIGNED_STATUSES, **{f"{sign_field}__isnull": False}) & (
        Q(**{f"{resolve_field}__isnull": True}) | Q(**{f"{resolve_field}__gte": models.F(sign_field)})
    )
    return models.Case(
        models.When(~Q(status__in=OPEN_STATUSES), then=models.Value(None)),
        models.When(sign_first, then=models.F(sign_field)),
        models.When(**{f"{resolve_field}__isnull": False}, then=models.F(resolve_field)),
        default=models.Value(NO_DEADLINE_TEXT),
        output_field=models.DateTimeField(),
    )


# Ticket columns kept out of its change history (see Ticket.history).
HISTORY_EXCLUDED_FIELDS = (
    "updated_at",
    "version",
    "urge_count",
    "sla_round",
    "sign_reminded",
    "resolve_warned",
    "resolve_overdue_alerted",
    "next_escalation_at",
    "escalation_step",
    "attention_due_at",
    "attention_warn_at",
)


class Ticket(models.Model):
    number = models.CharField(_("工单编号"), max_length=20, unique=True, editable=False)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices, default=Source.PHONE)
    external_id = models.CharField(
        _("外部单号"), max_length=64, blank=True, help_text=_("如95598工单号；同一来源不重复。")
    )
    kind = models.CharField(_("工单类型"), max_length=16, choices=Kind.choices)
    category = models.CharField(
        _("业务分类"), max_length=16, choices=Category.choices, default=Category.OTHER
    )
    urgency = models.PositiveSmallIntegerField(_("紧急程度"), choices=Urgency.choices, default=Urgency.NORMAL)
    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.PROTECT, related_name="tickets"
    )
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=16, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("诉求内容"), **limited(TEXT_LENGTH))
    # 5W1H (seed 004 §2.2(2)): why, what, who, when, where, and how the
    # customer wants it handled.
    why = models.TextField(_("原因(Why)"), blank=True, **limited(NOTE_LENGTH))
    what = models.TextField(_("事项(What)"), blank=True, **limited(NOTE_LENGTH))
    who = models.CharField(_("相关人(Who)"), max_length=200, blank=True)
    when = models.CharField(_("发生时间(When)"), max_length=100, blank=True)
    where = models.CharField(_("地点(Where)"), max_length=200, blank=True)
    how = models.TextField(_("客户期望(How)"), blank=True, **limited(NOTE_LENGTH))

    org_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("责任单位"), on_delete=models.PROTECT, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("受理人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opened_tickets",
    )
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.NEW)
    policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("时限策略"), null=True, blank=True, on_delete=models.SET_NULL
    )
    # The SLA clock lives in these columns (ARCHITECTURE rule 3): the scan
    # compares them with now() in SQL.
    sign_warn_at = models.DateTimeField(_("签收预警时间"), null=True, blank=True)
    sign_due_at = models.DateTimeField(_("签收时限"), null=True, blank=True)
    resolve_warn_at = models.DateTimeField(_("办结预警时间"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("办结时限"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(_("升级级别"), default=0)
    # When the next escalation is due, and how far apart escalations are:
    # the scan raises the level with one UPDATE of these columns.
    next_escalation_at = models.DateTimeField(_("下次升级时间"), null=True, blank=True)
    escalation_step = models.DurationField(_("升级间隔"), null=True, blank=True)
    # The clock restarts on transfer and reopening; reminders of an earlier
    # round must not block those of the new one, so dedupe keys carry it.
    sla_round = models.PositiveSmallIntegerField(_("计时轮次"), default=1)
    sign_reminded = models.BooleanField(_("已提醒签收"), default=False)
    resolve_warned = models.BooleanField(_("已预警"), default=False)
    # The resolve deadline passing is an alert of its own, decided once per round.
    resolve_overdue_alerted = models.BooleanField(_("已告知办结超时"), default=False)
    urge_count = models.PositiveIntegerField(_("催办次数"), default=0)

    is_repeat = models.BooleanField(_("重复投诉"), default=False)
    repeat_of = models.ForeignKey(
        "self",
        verbose_name=_("重复于"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repeats",
    )
    related = models.ManyToManyField("self", verbose_name=_("关联工单"), blank=True, symmetrical=True)

    class ResolutionKind(models.TextChoices):
        DIRECT = "direct", _("直接解决")
        EXAMPLE = "example", _("举例说明")
        OPTIONS = "options", _("提供方案选择")

    resolution_kind = models.CharField(
        _("解决方式"), max_length=8, choices=ResolutionKind.choices, blank=True
    )
    resolution = models.TextField(_("处理结果"), blank=True, **limited(TEXT_LENGTH))
    commitment = models.TextField(_("服务承诺"), blank=True, **limited(NOTE_LENGTH))
    commitment_due = models.DateField(_("承诺完成日期"), null=True, blank=True)

    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    archived_at = models.DateTimeField(_("归档时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("受理时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    # Bumped by every service write; the ETag of the API resource.
    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    # The running deadline and warning point of an open order, kept by the
    # database: the order list reads each rank (overdue, near, the rest) in
    # index order instead of sorting every open order on a computed key.
    attention_due_at = models.GeneratedField(
        expression=_first_running("sign_due_at", "resolve_due_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
    )
    attention_warn_at = models.GeneratedField(
        expression=_first_running("sign_warn_at", "resolve_warn_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    objects = TicketQuerySet.as_manager()
    # Every field change of an order, with who and when (ARCHITECTURE rule 9).
    # Left out: the stamps and the SLA bookkeeping the services and the scan
    # keep (each of their moves is a step on the timeline), and the columns
    # the database computes.
    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED_FIELDS)

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="ticket_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "resolve_due_at"], name="ticket_status_resolve_due"),
            models.Index(fields=["status", "sign_due_at"], name="ticket_status_sign_due"),
            # Scope first (accounts.scoping): a supervisor's orders are found by
            # `org_unit IN (the subtree's ids)`, then narrowed by status, or by a
            # period of one date without reading the other units' orders of it.
            models.Index(fields=["org_unit", "status", "created_at"], name="ticket_unit_status_created"),
            models.Index(fields=["org_unit", "created_at"], name="ticket_unit_created"),
            models.Index(fields=["org_unit", "signed_at"], name="ticket_unit_signed"),
            models.Index(fields=["org_unit", "resolved_at"], name="ticket_unit_resolved"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["customer", "kind", "category", "created_at"], name="ticket_repeat_lookup"),
            models.Index(fields=["next_escalation_at"], name="ticket_next_escalation"),
            # The scan's "resolve deadline passed, not yet told": open orders only, until told.
            models.Index(
                fields=["resolve_due_at"],
                condition=Q(status__in=OPEN_STATUSES, resolve_overdue_alerted=False),
                name="ticket_resolve_alert_due",
            ),
            # The dashboard's period figures and the list's date filters read
            # these ranges; without them every figure scans the whole table.
            models.Index(fields=["created_at"], name="ticket_created"),
            models.Index(fields=["signed_at"], name="ticket_signed"),
            models.Index(fields=["resolved_at"], name="ticket_resolved"),
            # The order list: most urgent first, the deadline that falls first
            # first, newest first; open orders only. The warning point and the
            # status are keys too, so a rank or a status filter is checked in
            # the index instead of fetching every open order's row.
            models.Index(
                fields=["-urgency", "attention_due_at", "-id", "attention_warn_at", "status"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_attention",
            ),
            # The same order within one unit: a supervisor's list reads each of
            # their units' first rows from it and merges them (tickets.selectors),
            # so a county's page costs its units, not the prefecture's orders.
            models.Index(
                fields=["org_unit", "-urgency", "attention_due_at", "-id", "attention_warn_at", "status"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_unit_attention",
            ),
            # A unit's orders newest first: the list's closed orders, merged per unit the same way.
            models.Index(fields=["org_unit", "-id"], name="ticket_unit_newest"),
            # Open orders by deadline: the dashboard's longest-overdue list.
            models.Index(
                fields=["attention_due_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_open_due",
            ),
            # The supervisor's dashboard (workspace.dashboard.figures): each index holds
            # every column its statement reads, so a prefecture's figures are
            # index-only scans of the open orders, or of one date's period, by unit.
            models.Index(
                fields=["org_unit", "assignee", "category"],
                include=["status", "attention_due_at", "attention_warn_at"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_dash_open",
            ),
            models.Index(
                fields=["org_unit", "created_at"], include=["kind", "is_repeat"], name="ticket_dash_created"
            ),
            models.Index(fields=["org_unit", "signed_at"], include=["created_at"], name="ticket_dash_signed"),
            models.Index(
                fields=["org_unit", "resolved_at"],
                include=["created_at", "resolve_due_at"],
                name="ticket_dash_resolved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_signed(self) -> bool:
        return self.status not in UNSIGNED_STATUSES

    @property
    def running_due_at(self):
        """The deadline the order runs against now: signing first, then resolving."""
        if not self.is_open:
            return None
        if not self.is_signed and self.sign_due_at:
            return min(self.sign_due_at, self.resolve_due_at or self.sign_due_at)
        return self.resolve_due_at

    def is_overdue(self, now=None) -> bool:
        due = self.running_due_at
        return due is not None and due <= (now or timezone.now())


class TicketEvent(models.Model):
    """One step on an order's timeline: who did what, when, from → to."""

    class Action(models.TextChoices):
        CREATED = "created", _("受理")
        DISPATCHED = "dispatched", _("派单")
        REASSIGNED = "reassigned", _("改派")
        SIGNED = "signed", _("签收")
        STARTED = "started", _("开始处理")
        RETURNED = "returned", _("退回")
        TRANSFERRED = "transferred", _("转办")
        URGED = "urged", _("催办")
        ESCALATED = "escalated", _("超时升级")
        RESOLVED = "resolved", _("办结")
        RETURN_VISIT = "return_visit", _("回访")
        REOPENED = "reopened", _("重新处理")
        ARCHIVED = "archived", _("归档")
        LINKED = "linked", _("关联工单")
        EDITED = "edited", _("修改")
        ATTACHED = "attached", _("上传附件")
        PROMISE_KEPT = "promise_kept", _("承诺已兑现")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="events"
    )
    action = models.CharField(_("操作"), max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    from_status = models.CharField(_("原状态"), max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, choices=Status.choices, blank=True)
    note = models.TextField(_("说明"), blank=True, **limited(NOTE_LENGTH))
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("工单记录")
        verbose_name_plural = _("工单记录")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="ticketevent_timeline"),
            # The dashboard's urges of a period.
            models.Index(fields=["action", "created_at"], name="ticketevent_action_time"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.get_action_display()}"


def open_promise_q(prefix: str = "") -> Q:
    """A service commitment not yet fulfilled: it has a promised date, it belongs to
    the order's latest resolution (a later 办结 replaces it; a reopening does not),
    and nobody has marked it kept."""
    return Q(
        **{
            f"{prefix}is_current": True,
            f"{prefix}kept_at__isnull": True,
            f"{prefix}commitment_due__isnull": False,
        }
    ) & ~Q(**{f"{prefix}commitment": ""})


class ResolutionQuerySet(models.QuerySet):
    def open_promises(self) -> "ResolutionQuerySet":
        return self.filter(open_promise_q())


class Resolution(models.Model):
    """One 办结 of an order: how it was solved and what was promised, by whom, when.

    Written by every resolve and never changed, so a reopened and re-resolved
    order keeps each earlier resolution and its service commitment. The
    order's own resolution fields hold the latest one.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="resolutions"
    )
    kind = models.CharField(_("解决方式"), max_length=8, choices=Ticket.ResolutionKind.choices)
    text = models.TextField(_("处理结果"), **limited(TEXT_LENGTH))
    commitment = models.TextField(_("服务承诺"), blank=True, **limited(NOTE_LENGTH))
    commitment_due = models.DateField(_("承诺完成日期"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("办结人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("办结时间"), default=timezone.now)
    # The clock round the order was resolved in (Ticket.sla_round).
    sla_round = models.PositiveSmallIntegerField(_("计时轮次"), default=1)
    # The order's latest resolution; a later 办结 replaces this one's promise.
    is_current = models.BooleanField(_("当前办结"), default=True)
    kept_at = models.DateTimeField(_("承诺兑现时间"), null=True, blank=True)
    kept_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认兑现人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set by the promise scan so the reminder and the alert are each decided once.
    promise_reminded = models.BooleanField(_("已提醒承诺"), default=False)
    promise_alerted = models.BooleanField(_("已告警承诺逾期"), default=False)

    objects = ResolutionQuerySet.as_manager()

    class Meta:
        verbose_name = _("办结记录")
        verbose_name_plural = _("办结记录")
        ordering = ["resolved_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "resolved_at"], name="resolution_ticket_time"),
            # Open promises by date: the scan, the workbench and the dashboard.
            models.Index(
                fields=["commitment_due", "id"],
                condition=Q(is_current=True, kept_at__isnull=True, commitment_due__isnull=False),
                name="resolution_open_promise",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.get_kind_display()}"

    @property
    def is_open_promise(self) -> bool:
        return bool(self.is_current and self.kept_at is None and self.commitment_due and self.commitment)


class Transfer(models.Model):
    """转办: handing an order to another department, with a named tracker (seed 001 §4)."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="transfers"
    )
    from_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("转出单位"), on_delete=models.PROTECT, related_name="+"
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("转出人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    to_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("接收单位"), on_delete=models.PROTECT, related_name="+"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("转办原因"), **limited(NOTE_LENGTH))
    tracker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("跟踪人"),
        on_delete=models.PROTECT,
        related_name="tracked_transfers",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("转办时间"), default=timezone.now)

    class Meta:
        verbose_name = _("转办")
        verbose_name_plural = _("转办")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id} → {self.to_unit_id}"


class ReturnVisit(models.Model):
    """回访 after the work: scheduled when the order is resolved."""

    class Method(models.TextChoices):
        PHONE = "phone", _("电话")
        SMS = "sms", _("短信")
        WECHAT = "wechat", _("微信")
        VISIT = "visit", _("上门")
        EMAIL = "email", _("邮件")
        LETTER = "letter", _("信函")
        # The customer answered the survey link themselves (no staff member involved).
        SELF_SERVICE = "self", _("自助评价")

    class Result(models.TextChoices):
        SATISFIED = "satisfied", _("满意")
        BASICALLY = "basically", _("基本满意")
        DISSATISFIED = "dissatisfied", _("不满意")

    # What the satisfaction rate counts as satisfied (满意或基本满意).
    SATISFIED_RESULTS = (Result.SATISFIED, Result.BASICALLY)

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="return_visits"
    )
    due_at = models.DateTimeField(_("回访时限"))
    method = models.CharField(_("回访方式"), max_length=8, choices=Method.choices, blank=True)
    result = models.CharField(_("回访结果"), max_length=16, choices=Result.choices, blank=True)
    note = models.TextField(_("回访记录"), blank=True, **limited(NOTE_LENGTH))
    visited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("回访人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    visited_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    # Set by the return-visit scan so each reminder is decided once.
    due_reminded = models.BooleanField(_("已提醒回访"), default=False)
    missed_alerted = models.BooleanField(_("已告警逾期"), default=False)

    class Meta:
        verbose_name = _("回访")
        verbose_name_plural = _("回访")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["visited_at", "due_at"], name="returnvisit_due"),
            models.Index(fields=["due_at"], name="returnvisit_due_at"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.get_result_display()}"

    @property
    def is_done(self) -> bool:
        return self.visited_at is not None


class TicketNumberCounter(models.Model):
    """Per-day counter behind the human-readable numbers GD202611220001."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("工单编号计数")
        verbose_name_plural = _("工单编号计数")

    def __str__(self) -> str:
        return f"{self.day} {self.last}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"tickets/{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("文件"), upload_to=attachment_path)
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=32)
    size = models.PositiveIntegerField(_("大小(字节)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name
