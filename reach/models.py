"""Who was told what, through which channel, and whether it arrived.

One `ReachRecord` per (notice, customer): the channel the policy chose
(reach/policy.py), why, the state of that channel, the outbox row it rides
on, and — when someone must phone — the call task. A notice is named by a
generic key, so one model serves every source:

- `outage_notice:<id>`     an outage notice (advance, start, delay, restored, cancelled)
- `ticket:<id>:accepted`   the acceptance of a complaint or repair order
- `broadcast:<id>`         a broadcast (群发) that important customers must hear one-to-one

`topic_key` groups the notices of one matter (`outage:<id>`, `ticket:<id>`,
`broadcast:<id>`) for the outage page and the customer 360 page.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit
from accounts.scoping import ScopedQuerySet
from customers.models import Contact, Customer


class Channel(models.TextChoices):
    GROUP = "group", _("企业微信群发")
    WECOM = "wecom", _("企业微信一对一")
    SMS = "sms", _("短信")
    EMAIL = "email", _("电子邮件")
    CALL = "call", _("电话通知")
    NONE = "none", _("无法触达")


class State(models.TextChoices):
    """One state set for every channel; the page names it per channel (`state_label`)."""

    WAITING = "waiting", _("等待中")  # group/WeCom: waiting for the owner; call: to be made
    QUEUED = "queued", _("待发送")  # the outbox row is not sent yet
    SUBMITTED = "submitted", _("已提交")  # the SMS provider took it, no receipt yet
    REACHED = "reached", _("已触达")  # delivered, sent by the owner, or told on the phone
    FAILED = "failed", _("未触达")  # failed, not sent, no answer, wrong number
    CANCELLED = "cancelled", _("已撤回")  # the notice was withdrawn before it went out
    UNREACHABLE = "unreachable", _("无法触达")


class CallState(models.TextChoices):
    NONE = "", _("无")
    PENDING = "pending", _("待拨打")
    DONE = "done", _("已告知")
    NO_ANSWER = "no_answer", _("未接通")
    WRONG_NUMBER = "wrong_number", _("号码错误")


class Reason(models.TextChoices):
    """Why the policy chose the channel (or why nobody could be reached)."""

    SENSITIVE_PERSONAL = "sensitive_personal", _("敏感/VIP客户，点对点通知")
    HIGH_SENSITIVITY_CALL = "high_sensitivity_call", _("高敏客户故障停电，另加电话通知")
    GROUP_MEMBER = "group_member", _("联系人在已群发的企业微信群中")
    GROUP_AREA = "group_area", _("所在台区/线路的企业微信群已群发")
    NO_GROUP = "no_group", _("没有企业微信群覆盖，短信通知")
    PREFERS_EMAIL = "prefers_email", _("联系人首选电子邮件")
    WECOM_CONTACT = "wecom_contact", _("联系人是客户经理的企业微信外部联系人，一对一群发")
    NO_MOBILE_RESIDENT = "no_mobile_resident", _("没有手机号码，由台区客户经理电话通知")
    NO_MOBILE_SENSITIVE = "no_mobile_sensitive", _("敏感客户没有手机号码，由客户经理电话通知")
    NO_CHANNEL = "no_channel", _("没有手机号码、邮箱或企业微信，也不在居民台区")
    NO_CONTACT = "no_contact", _("档案中没有联系人")
    ACCEPTANCE = "acceptance", _("工单受理短信")
    GROUP_NOT_SENT = "group_not_sent", _("群发未发送，改用下一渠道")
    GROUP_LATE = "group_late", _("群主未按时确认群发，改用下一渠道")
    WECOM_NOT_SENT = "wecom_not_sent", _("企业微信一对一未发送，改用下一渠道")
    SMS_FAILED = "sms_failed", _("短信发送失败，改用下一渠道")
    EMAIL_FAILED = "email_failed", _("邮件发送失败，改用下一渠道")
    NO_FALLBACK = "no_fallback", _("原渠道未触达，且没有其他渠道")


class ReachNotice(models.Model):
    """One notice to customers, kept with its text so that a fallback days later
    says the same thing; `key` is the generic notice key (see the module doc)."""

    key = models.CharField(_("通知标识"), max_length=64, unique=True)
    topic_key = models.CharField(_("事项标识"), max_length=64, db_index=True)
    label = models.CharField(_("通知"), max_length=100)
    subject = models.CharField(_("内容"), max_length=200)
    # Outbox rows of this notice are keyed `<dedupe_prefix>customer:<id>` (a fallback adds `:fallback`).
    dedupe_prefix = models.CharField(_("去重前缀"), max_length=100)
    sms_kind = models.CharField(_("短信模板类型"), max_length=40, blank=True)
    sms_params = models.JSONField(_("模板参数"), default=dict, blank=True)
    # An advance notice: an SMS held through quiet hours.
    quiet = models.BooleanField(_("避开免打扰时段"), default=False)
    # A fault outage: high-sensitivity customers get a phone call as well.
    urgent = models.BooleanField(_("紧急"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    # Every customer has a record: the WeCom one-to-one tasks may be created, one per manager.
    fanned_out_at = models.DateTimeField(_("分发完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("触达通知")
        verbose_name_plural = _("触达通知")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label


class PersonalPostState(models.TextChoices):
    QUEUED = "queued", _("待创建任务")
    WAITING = "waiting", _("等待客户经理确认")
    DONE = "done", _("已发送")
    NOT_SENT = "not_sent", _("未发送")


class PersonalPost(models.Model):
    """A WeCom one-to-one 群发 (add_msg_template, chat_type "single"): one task per
    notice and manager, to every external contact of theirs the notice reaches this
    way. WeCom sends nothing until the manager confirms it in WeCom; the records
    riding on it (`records`) follow its send result per contact (reach/one_to_one.py).

    Records join a post while it is open (`requested_at` empty); once its task is
    being created, a later record starts a new post."""

    notice = models.ForeignKey(
        ReachNotice, verbose_name=_("通知"), on_delete=models.CASCADE, related_name="personal_posts"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("客户经理"), on_delete=models.PROTECT, related_name="+"
    )
    sender_userid = models.CharField(_("客户经理企业微信账号"), max_length=64)
    state = models.CharField(
        _("发送状态"), max_length=8, choices=PersonalPostState.choices, default=PersonalPostState.QUEUED
    )
    reason = models.CharField(_("未发送原因"), max_length=200, blank=True)
    msgid = models.CharField(_("群发任务ID"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    requested_at = models.DateTimeField(_("提交企业微信时间"), null=True, blank=True)
    claimed_until = models.DateTimeField(_("处理锁定至"), null=True, blank=True, editable=False)
    checked_at = models.DateTimeField(_("最近查询时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("企业微信一对一群发")
        verbose_name_plural = _("企业微信一对一群发")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "sender_userid"],
                condition=Q(requested_at__isnull=True),
                name="personalpost_one_open_per_sender",
            ),
        ]
        indexes = [models.Index(fields=["state", "msgid"], name="personalpost_state_msgid")]

    def __str__(self) -> str:
        return f"{self.notice_id} · {self.sender_userid} · {self.state}"


class ReachRecordQuerySet(ScopedQuerySet):
    # Scoped like the customer it is about: the customer's manager, or the station.
    scope_owner_field = "customer__manager"
    scope_unit_field = "station"

    def also_visible_to(self, user) -> Q:
        return Q(call_assignee=user)

    def calls_for(self, user) -> "ReachRecordQuerySet":
        """Call tasks a user works on: an account manager their own, a supervisor
        (and an administrator) those of their units."""
        calls = self.exclude(call_state=CallState.NONE)
        settled = calls.settled_for(user)
        if settled is not None:
            return settled
        if user.is_supervisor:
            return calls.visible_to(user)
        return calls.filter(call_assignee=user)

    def told_q(self) -> Q:
        return Q(state=State.REACHED) | Q(call_state=CallState.DONE)


class ReachRecord(models.Model):
    # No database constraint on the columns the set-based fan-out writes from rows the
    # same statement (or transaction) has just read or written: notice, customer,
    # station, group, broadcast, outbox row. PostgreSQL checks a foreign key row by row
    # (a lookup and a KEY SHARE lock per row and column); at 100,000 records that cost
    # three times the inserts themselves (bench/outage_fanout.py). None of those rows
    # is hard-deleted by the product (customers are archived with deleted_at; notices,
    # groups, broadcasts and outbox rows are kept); a delete through the ORM or the admin
    # still cascades, sets null or protects (Django applies on_delete), and
    # tests/reach/test_integrity.py holds that no record points at nothing. Nor on the
    # columns no fan-out writes (the one-to-one post, who called: set later, one record
    # at a time, to a row that exists): PostgreSQL queues a check for every inserted row
    # and key even when the key is empty, and runs them all at commit. The contact keeps
    # its constraint (contacts are deleted every day, concurrently with a fan-out), and so
    # does the call assignee (a call task must not be left with nobody to make it).
    notice = models.ForeignKey(
        ReachNotice,
        verbose_name=_("通知"),
        on_delete=models.CASCADE,
        related_name="records",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("客户"),
        on_delete=models.CASCADE,
        related_name="reach_records",
        db_index=False,
        db_constraint=False,
    )
    station = models.ForeignKey(
        OrgUnit,
        verbose_name=_("供电所"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("联系人"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    reason = models.CharField(_("原因"), max_length=32, choices=Reason.choices)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices)
    # The outbox row it rides on (SMS, e-mail), and the group post.
    notification = models.ForeignKey(
        "notifications.Notification",
        verbose_name=_("通知记录"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    group = models.ForeignKey(
        "groups.ServiceGroup",
        verbose_name=_("客户群"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    personal_post = models.ForeignKey(
        PersonalPost,
        verbose_name=_("企业微信一对一群发"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="records",
        db_index=False,
        db_constraint=False,
    )
    broadcast = models.ForeignKey(
        "groups.Broadcast",
        verbose_name=_("群发"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # A fallback happens once: the channel it fell back from, and when.
    fallback_from = models.CharField(_("原渠道"), max_length=8, choices=Channel.choices, blank=True)
    fallback_at = models.DateTimeField(_("转用时间"), null=True, blank=True)
    state_reason = models.CharField(_("状态说明"), max_length=200, blank=True)
    # The phone-call task, when there is one (the channel itself, or beside a personal SMS).
    call_state = models.CharField(_("电话通知"), max_length=12, choices=CallState.choices, blank=True)
    call_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责拨打"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reach_calls",
        db_index=False,
    )
    called_at = models.DateTimeField(_("拨打时间"), null=True, blank=True)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("拨打人"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    state_changed_at = models.DateTimeField(_("状态时间"), null=True, blank=True)
    reached_at = models.DateTimeField(_("触达时间"), null=True, blank=True)

    objects = ReachRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("触达记录")
        verbose_name_plural = _("触达记录")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "customer"], name="reach_once_per_notice_customer"),
        ]
        # Few indexes, partial where most rows hold NULL: a fan-out writes 100,000 rows at
        # once. (notice, customer) and (customer, created_at) serve the lookups by notice
        # and by customer, (broadcast, group) a group post's records; the others serve the
        # deletes of what a record points at. None on the station (a supervisor's lists go
        # by notice or by call task first; units are not deleted while records name them)
        # nor on the group alone (groups are archived, not deleted).
        indexes = [
            models.Index(
                fields=["broadcast", "group"], condition=Q(broadcast__isnull=False), name="reach_group_post"
            ),
            models.Index(fields=["customer", "created_at"], name="reach_customer_created"),
            models.Index(fields=["contact"], condition=Q(contact__isnull=False), name="reach_contact"),
            models.Index(
                fields=["notification"], condition=Q(notification__isnull=False), name="reach_notification"
            ),
            models.Index(
                fields=["personal_post"], condition=Q(personal_post__isnull=False), name="reach_personal_post"
            ),
            models.Index(
                fields=["call_assignee"], condition=Q(call_assignee__isnull=False), name="reach_call_assignee"
            ),
            models.Index(fields=["called_by"], condition=Q(called_by__isnull=False), name="reach_called_by"),
            models.Index(
                fields=["call_assignee", "call_state", "id"],
                condition=~Q(call_state=""),
                name="reach_call_tasks",
            ),
            models.Index(
                fields=["channel", "state"],
                condition=Q(state__in=["waiting", "queued", "submitted"]),
                name="reach_open_states",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice_id} · {self.customer_id} · {self.channel}"

    @property
    def is_told(self) -> bool:
        return self.state == State.REACHED or self.call_state == CallState.DONE

    @property
    def state_label(self) -> str:
        """The state in the words of its channel."""
        if self.channel == Channel.CALL and self.call_state:
            return str(CallState(self.call_state).label)
        return str(STATE_LABELS.get((self.channel, self.state), State(self.state).label))


STATE_LABELS = {
    (Channel.GROUP, State.WAITING): _("等待群主确认"),
    (Channel.GROUP, State.REACHED): _("已发送"),
    (Channel.GROUP, State.FAILED): _("未发送"),
    (Channel.WECOM, State.WAITING): _("等待客户经理确认"),
    (Channel.WECOM, State.REACHED): _("已发送"),
    (Channel.WECOM, State.FAILED): _("未发送"),
    (Channel.SMS, State.REACHED): _("已送达"),
    (Channel.SMS, State.FAILED): _("发送失败"),
    (Channel.EMAIL, State.REACHED): _("已发送"),
    (Channel.EMAIL, State.FAILED): _("发送失败"),
}
