"""Customer service groups (客户群, seed 000 §02): who is in them, what is said, what is sent.

Every model here a user can see has `visible_to(user)`: groups through their
owner and org unit, members and messages through their group, broadcasts
through their author and unit, reply templates down the unit's subtree.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit, ancestor_paths
from accounts.scoping import ScopedQuerySet, subtree_unit_ids
from core.text import MESSAGE_LENGTH, TEXT_LENGTH, limited
from customers.models import Contact, Customer, District, Line


class GroupKind(models.TextChoices):
    VIP = "vip", _("VIP客户群")
    DISTRICT = "district", _("台区群")
    LINE = "line", _("线路群")
    PUBLIC = "public", _("公共服务群")


class ServiceGroupQuerySet(ScopedQuerySet):
    scope_owner_field = "owner"
    scope_unit_field = "org_unit"

    def active(self) -> "ServiceGroupQuerySet":
        return self.filter(archived_at__isnull=True)


class ServiceGroup(models.Model):
    """A WeChat customer group a manager runs (or, for 公共服务群, has joined).

    "谁建群谁负责": the owner answers for the group; rules are set when it is
    created. A 台区群 belongs to one transformer district, a 线路群 to one line.
    """

    name = models.CharField(_("群名称"), max_length=100)
    kind = models.CharField(_("群类型"), max_length=16, choices=GroupKind.choices)
    audience = models.CharField(
        _("服务对象"),
        max_length=100,
        blank=True,
        help_text=_("VIP客户群按客户类别建立，例如：大工业客户、重要客户。"),
    )
    host_organization = models.CharField(
        _("建群单位"),
        max_length=100,
        blank=True,
        help_text=_("公共服务群由当地政府、村“两委”或社区居委会组建，请填写组建单位。"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责人"),
        on_delete=models.PROTECT,
        related_name="service_groups",
    )
    org_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="service_groups"
    )
    district = models.ForeignKey(
        District,
        verbose_name=_("台区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_groups",
    )
    line = models.ForeignKey(
        Line,
        verbose_name=_("线路"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_groups",
    )
    rules = models.TextField(_("群规"), **limited(TEXT_LENGTH))
    announcement = models.TextField(_("群公告"), blank=True, **limited(TEXT_LENGTH))
    external_id = models.CharField(
        _("外部群号"), max_length=64, blank=True, help_text=_("微信群的原始标识，用于消息同步。")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("建群人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("建群时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    archived_at = models.DateTimeField(_("归档时间"), null=True, blank=True)

    objects = ServiceGroupQuerySet.as_manager()

    class Meta:
        verbose_name = _("客户群")
        verbose_name_plural = _("客户群")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind=GroupKind.DISTRICT, district__isnull=False, line__isnull=True)
                    | Q(kind=GroupKind.LINE, line__isnull=False, district__isnull=True)
                    | Q(kind__in=[GroupKind.VIP, GroupKind.PUBLIC], district__isnull=True, line__isnull=True)
                ),
                name="servicegroup_area_fits_kind",
                violation_error_message=_("台区群须选择台区，线路群须选择线路，其他群不关联台区或线路。"),
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="servicegroup_unique_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "archived_at"], name="servicegroup_owner"),
            models.Index(fields=["org_unit", "archived_at"], name="servicegroup_unit"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def area(self) -> District | Line | None:
        return self.district or self.line


# The fields of a group people write, in the order the API shows them; the
# unit follows the owner and the stamps are kept by the services.
GROUP_FIELDS = (
    "name",
    "kind",
    "owner",
    "rules",
    "announcement",
    "audience",
    "host_organization",
    "district",
    "line",
)


class MembershipQuerySet(ScopedQuerySet):
    scope_owner_field = "group__owner"
    scope_unit_field = "group__org_unit"

    def active(self) -> "MembershipQuerySet":
        return self.filter(left_at__isnull=True)


class Membership(models.Model):
    """One person in a group: a customer's contact or a staff member, never both."""

    group = models.ForeignKey(
        ServiceGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="memberships"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("客户联系人"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="group_memberships",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("工作人员"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="group_memberships",
    )
    joined_at = models.DateTimeField(_("入群时间"), default=timezone.now)
    left_at = models.DateTimeField(_("退群时间"), null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("群成员")
        verbose_name_plural = _("群成员")
        ordering = ["joined_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False, user__isnull=True)
                | Q(contact__isnull=True, user__isnull=False),
                name="membership_contact_xor_user",
                violation_error_message=_("群成员须是客户联系人或工作人员之一。"),
            ),
            models.UniqueConstraint(
                fields=["group", "contact"],
                condition=Q(left_at__isnull=True, contact__isnull=False),
                name="membership_one_active_per_contact",
                violation_error_message=_("该联系人已在群中。"),
            ),
            models.UniqueConstraint(
                fields=["group", "user"],
                condition=Q(left_at__isnull=True, user__isnull=False),
                name="membership_one_active_per_user",
                violation_error_message=_("该工作人员已在群中。"),
            ),
        ]

    def __str__(self) -> str:
        return str(self.contact or self.user)

    @property
    def is_staff_member(self) -> bool:
        return self.user_id is not None


class GroupMessageQuerySet(ScopedQuerySet):
    scope_owner_field = "group__owner"
    scope_unit_field = "group__org_unit"

    def inquiries(self) -> "GroupMessageQuerySet":
        return self.filter(is_inquiry=True)

    def unanswered(self) -> "GroupMessageQuerySet":
        return self.filter(is_inquiry=True, answered_at__isnull=True)

    def overdue(self, now=None) -> "GroupMessageQuerySet":
        return self.unanswered().filter(response_due_at__lte=now or timezone.now())


class GroupMessage(models.Model):
    """One message in a group: a customer's, a staff member's, or a broadcast posted there.

    A customer's inquiry (咨询/诉求) runs against `response_due_at`, fixed when
    it is recorded (see groups.health.response_due_at); the first staff reply
    that answers it sets `answer`, `answered_at` and `response_seconds`.
    """

    class SenderKind(models.TextChoices):
        CUSTOMER = "customer", _("客户")
        STAFF = "staff", _("工作人员")

    group = models.ForeignKey(
        ServiceGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="messages"
    )
    sender_kind = models.CharField(_("发送方"), max_length=8, choices=SenderKind.choices)
    sender_contact = models.ForeignKey(
        Contact,
        verbose_name=_("客户联系人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_messages",
    )
    # Kept beside the contact so the message stays the customer's (for a work
    # order, for the one-to-one rule) even if the contact is removed later.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("客户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_messages",
    )
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("工作人员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_messages",
    )
    sender_name = models.CharField(_("发送人"), max_length=100)
    text = models.TextField(_("内容"), **limited(MESSAGE_LENGTH))
    sent_at = models.DateTimeField(_("发送时间"), default=timezone.now)
    external_id = models.CharField(
        _("原始消息号"), max_length=64, blank=True, help_text=_("同一群内不重复，重复导入不会产生两条。")
    )
    is_inquiry = models.BooleanField(_("咨询/诉求"), default=False)
    response_due_at = models.DateTimeField(_("回复时限"), null=True, blank=True)
    answer = models.ForeignKey(
        "self",
        verbose_name=_("回复消息"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="answered_inquiries",
    )
    answered_at = models.DateTimeField(_("回复时间"), null=True, blank=True)
    # Set when the chat archive shows the sender withdrew (撤回) the message.
    recalled_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    response_seconds = models.PositiveIntegerField(_("响应时长(秒)"), null=True, blank=True)
    # Set by the reminder scan so each reminder is decided once.
    owner_reminded = models.BooleanField(_("已提醒群主"), default=False)
    supervisors_alerted = models.BooleanField(_("已告警主管"), default=False)
    broadcast = models.ForeignKey(
        "Broadcast",
        verbose_name=_("群发"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="group_messages",
    )
    # The work order made from this message (groups never import tickets:
    # the number is the link).
    ticket_number = models.CharField(_("工单编号"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("记录人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = GroupMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("群消息")
        verbose_name_plural = _("群消息")
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "external_id"],
                condition=~Q(external_id=""),
                name="groupmessage_unique_external_id",
            ),
            models.CheckConstraint(
                condition=Q(is_inquiry=False) | Q(sender_kind="customer"),
                name="groupmessage_inquiry_from_customer",
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(is_inquiry=True),
                name="groupmessage_answer_only_inquiry",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "sent_at"], name="groupmessage_group_sent"),
            # A scope's inquiries of the health window (the dashboard's groups chart),
            # group by group, without passing the other messages.
            models.Index(
                fields=["group", "sent_at"], condition=Q(is_inquiry=True), name="groupmessage_group_inquiry"
            ),
            # The prefecture's groups chart reads every inquiry of the health window:
            # by date, with what it counts included, it is an index-only scan.
            models.Index(
                fields=["sent_at"],
                include=["group", "answered_at", "response_due_at"],
                condition=Q(is_inquiry=True),
                name="groupmessage_dash_inquiry",
            ),
            models.Index(fields=["group", "sender_user", "sent_at"], name="groupmessage_group_speaker"),
            models.Index(
                fields=["response_due_at"],
                condition=Q(is_inquiry=True, answered_at__isnull=True),
                name="groupmessage_unanswered_due",
            ),
            models.Index(fields=["customer", "group"], name="groupmessage_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_name}: {self.text[:30]}"

    @property
    def is_from_customer(self) -> bool:
        return self.sender_kind == self.SenderKind.CUSTOMER

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None


class BroadcastTopic(models.TextChoices):
    PRICE_POLICY = "price_policy", _("电价政策")
    SAFETY = "safety", _("安全用电")
    SAVING = "saving", _("节能用电")
    OUTAGE = "outage", _("停电信息")
    CHANNELS = "channels", _("服务渠道")
    OTHER = "other", _("其他")


class BroadcastQuerySet(ScopedQuerySet):
    scope_owner_field = "created_by"
    scope_unit_field = "org_unit"

    def due(self, now=None) -> "BroadcastQuerySet":
        """Scheduled broadcasts whose time has come and that nobody has published yet."""
        return self.filter(published_at__isnull=True, scheduled_at__lte=now or timezone.now())


class Broadcast(models.Model):
    """群发/朋友圈: valuable content sent to groups (seed 000 §01, §02 四).

    Important customers in the target groups are always told one-to-one as
    well (seed 000 §01/§03); see groups.services.broadcasts.broadcast_publish.
    """

    topic = models.CharField(_("主题"), max_length=16, choices=BroadcastTopic.choices)
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("正文"), **limited(TEXT_LENGTH))
    groups = models.ManyToManyField(ServiceGroup, verbose_name=_("目标客户群"), related_name="broadcasts")
    scheduled_at = models.DateTimeField(_("计划发布时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    forward_to_important = models.BooleanField(
        _("点对点转发重点客户"),
        default=True,
        help_text=_("高敏、重要、重点关注、特殊、敏感及VIP客户另行单独发送，不只发群消息。"),
    )
    personal_notices = models.PositiveIntegerField(_("点对点发送数"), default=0)
    org_unit = models.ForeignKey(
        OrgUnit, verbose_name=_("所属单位"), on_delete=models.PROTECT, related_name="broadcasts"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发布人"),
        on_delete=models.PROTECT,
        related_name="broadcasts",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = BroadcastQuerySet.as_manager()

    class Meta:
        verbose_name = _("群发")
        verbose_name_plural = _("群发")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["published_at", "scheduled_at"], name="broadcast_due")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ReplyCategory(models.TextChoices):
    BILLING = "billing", _("电费电价")
    OUTAGE = "outage", _("停电报修")
    EXPANSION = "expansion", _("业扩报装")
    SAFETY = "safety", _("安全用电")
    CHANNELS = "channels", _("服务渠道")
    SOOTHING = "soothing", _("情绪安抚")
    OTHER = "other", _("其他")


class ReplyTemplateQuerySet(ScopedQuerySet):
    scope_owner_field = "created_by"
    scope_unit_field = "org_unit"

    def visible_to(self, user) -> "ReplyTemplateQuerySet":
        """A template is shared down its unit's subtree: a user sees those of
        their own unit and every unit above it, and their own; a supervisor
        also sees those of the units below."""
        settled = self.settled_for(user)
        if settled is not None:
            return settled
        path = user.org_unit.path
        shared = Q(org_unit__path__in=ancestor_paths(path)) | Q(created_by=user)
        if user.is_supervisor:
            shared |= Q(org_unit__in=subtree_unit_ids(user))
        return self.filter(shared)


class ReplyTemplate(models.Model):
    """话术库: a reply worth reusing (seed 000 §04 “微”攻略)."""

    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("话术内容"), **limited(TEXT_LENGTH))
    category = models.CharField(_("分类"), max_length=16, choices=ReplyCategory.choices)
    org_unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("共享单位"),
        on_delete=models.PROTECT,
        related_name="reply_templates",
        help_text=_("本单位及下级单位的人员都可使用。"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reply_templates",
    )
    use_count = models.PositiveIntegerField(_("使用次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = ReplyTemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("话术")
        verbose_name_plural = _("话术库")
        ordering = ["-use_count", "title", "id"]

    def __str__(self) -> str:
        return self.title


class GroupHealth(models.Model):
    """A group's health figures (groups.selectors.health_from_messages) as of `computed_at`,
    kept by the services that write its messages, so lists read one row per group.

    The figures stay exact while time alone cannot change them: from
    `computed_at` until the oldest inquiry of the window leaves it
    (`window_ends_at`, inclusive) or the next waiting inquiry passes its
    deadline (`next_due_at`, exclusive), for the owner and window length they
    were computed for. Outside that, readers compute the group from its
    messages and the periodic refresh brings the row up to date.
    """

    group = models.OneToOneField(
        ServiceGroup,
        verbose_name=_("客户群"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="health",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_days = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()
    window_ends_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    inquiries_recent = models.PositiveIntegerField(default=0)
    inquiries_decided = models.PositiveIntegerField(default=0)
    answered_in_time = models.PositiveIntegerField(default=0)
    median_response_seconds = models.FloatField(null=True, blank=True)
    unanswered_now = models.PositiveIntegerField(default=0)
    overdue_now = models.PositiveIntegerField(default=0)
    owner_last_spoke_at = models.DateTimeField(null=True, blank=True)
    # The window's response times, ascending: an owner's median over many groups stays exact.
    response_seconds = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("客户群健康度")
        verbose_name_plural = _("客户群健康度")

    def __str__(self) -> str:
        return str(self.group_id)


class GroupPostState(models.TextChoices):
    QUEUED = "queued", _("待创建群发任务")
    WAITING = "waiting", _("等待群主确认")
    SENT = "sent", _("已发送")
    NOT_SENT = "not_sent", _("未发送")


class GroupPost(models.Model):
    """A broadcast's post to one WeCom-linked group: a 企业群发 task its owner confirms in WeCom.

    WeCom sends nothing until the owner presses 发送 in WeCom, so the state is
    not "sent" when the CRM publishes: a worker creates the task (one per owner
    and broadcast, carrying all that owner's groups), then polls WeCom's send
    result per task. Groups with no WeCom chat id get no post: their broadcast
    is only recorded in the CRM.
    """

    broadcast = models.ForeignKey(
        Broadcast, verbose_name=_("群发"), on_delete=models.CASCADE, related_name="posts"
    )
    group = models.ForeignKey(
        ServiceGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="posts"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("群主"), on_delete=models.PROTECT, related_name="+"
    )
    sender_userid = models.CharField(_("群主企业微信账号"), max_length=64)
    state = models.CharField(
        _("发送状态"), max_length=8, choices=GroupPostState.choices, default=GroupPostState.QUEUED
    )
    reason = models.CharField(_("未发送原因"), max_length=200, blank=True)
    msgid = models.CharField(_("群发任务ID"), max_length=64, blank=True)
    # The calendar month (site time zone) whose receiving limit this post counts against.
    month = models.CharField(_("计入月份"), max_length=7)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    requested_at = models.DateTimeField(_("提交企业微信时间"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    checked_at = models.DateTimeField(_("最近查询时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(_("已提醒群主次数"), default=0)
    reminded_at = models.DateTimeField(_("最近提醒时间"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("已告知主管时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("企业微信群发")
        verbose_name_plural = _("企业微信群发")
        ordering = ["broadcast", "group__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "group"], name="grouppost_once_per_group")
        ]
        indexes = [
            models.Index(fields=["state", "msgid"], name="grouppost_state_msgid"),
            models.Index(fields=["group", "month", "state"], name="grouppost_group_month"),
        ]

    def __str__(self) -> str:
        return f"{self.broadcast_id} · {self.group_id} · {self.state}"


class ArchiveCursor(models.Model):
    """How far the chat archive (会话内容存档) has been read from one source: the last
    sequence number whose batch is stored. It moves in the transaction that
    stores the batch, so a puller killed mid-batch starts that batch again."""

    source = models.CharField(_("来源"), max_length=16, unique=True)
    seq = models.BigIntegerField(_("已读到的序号"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会话存档读取位置")
        verbose_name_plural = _("会话存档读取位置")

    def __str__(self) -> str:
        return f"{self.source}: {self.seq}"


class HeldArchiveMessage(models.Model):
    """A group message from the chat archive that could not be placed yet: its
    group or its sender is not known to the CRM, or the ingest rules refused
    it. Kept whole (the decrypted message) and tried again by every pull until
    it is stored, so nothing the archive gave is lost."""

    class Reason(models.TextChoices):
        UNKNOWN_ROOM = "unknown_room", _("未关联的客户群")
        UNKNOWN_SENDER = "unknown_sender", _("未关联的发送人")
        REFUSED = "refused", _("不符合登记规则")

    msgid = models.CharField(_("原始消息号"), max_length=64, unique=True)
    seq = models.BigIntegerField(_("存档序号"))
    roomid = models.CharField(_("外部群号"), max_length=64)
    sender = models.CharField(_("发送人企业微信ID"), max_length=64)
    sent_at = models.DateTimeField(_("发送时间"))
    reason = models.CharField(_("原因"), max_length=16, choices=Reason.choices)
    detail = models.CharField(_("说明"), max_length=200, blank=True)
    payload = models.JSONField(_("存档消息"))
    held_at = models.DateTimeField(_("暂存时间"), default=timezone.now)

    class Meta:
        verbose_name = _("待关联的存档消息")
        verbose_name_plural = _("待关联的存档消息")
        ordering = ["held_at", "id"]
        indexes = [
            models.Index(fields=["roomid"], name="heldarchive_room"),
            models.Index(fields=["held_at", "id"], name="heldarchive_held"),
        ]

    def __str__(self) -> str:
        return self.msgid


class WeComChatStatus(models.TextChoices):
    SYNCED = "synced", _("已同步")
    OWNER_UNKNOWN = "owner_unknown", _("群主未绑定")
    DISMISSED = "dismissed", _("已解散")


class WeComChat(models.Model):
    """What the CRM last learnt of one WeCom customer group (客户群), by its chat_id.

    The ServiceGroup is the group people work with; this row is the sync's
    memory of WeCom: the owner's userid, when the group was last read in
    full, and groups kept aside because no user has their owner's userid
    (listed in the admin, picked up by the next reconcile once one does).
    """

    chat_id = models.CharField(_("企业微信群ID"), max_length=64, unique=True)
    group = models.OneToOneField(
        ServiceGroup,
        verbose_name=_("客户群"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wecom_chat",
    )
    name = models.CharField(_("群名称"), max_length=100, blank=True)
    owner_userid = models.CharField(_("群主企业微信账号"), max_length=64, blank=True)
    status = models.CharField(
        _("同步状态"), max_length=16, choices=WeComChatStatus.choices, default=WeComChatStatus.SYNCED
    )
    member_count = models.PositiveIntegerField(_("成员数"), default=0)
    created_in_wecom_at = models.DateTimeField(_("企业微信建群时间"), null=True, blank=True)
    synced_at = models.DateTimeField(_("最近同步时间"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("解散时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("企业微信客户群")
        verbose_name_plural = _("企业微信客户群")
        ordering = ["status", "name", "id"]
        indexes = [models.Index(fields=["status", "synced_at"], name="wecomchat_status_synced")]

    def __str__(self) -> str:
        return self.name or self.chat_id


class UnlinkedMemberQuerySet(ScopedQuerySet):
    scope_owner_field = "group__owner"
    scope_unit_field = "group__org_unit"

    def active(self) -> "UnlinkedMemberQuerySet":
        return self.filter(left_at__isnull=True)


class UnlinkedMember(models.Model):
    """A member of a WeCom group the CRM cannot name yet (群成员未关联).

    An external member (客户) whose external_userid no archive contact carries,
    or a staff member whose userid no user carries. The group page lists the
    external ones as "未关联成员" for the manager to link to a contact by hand;
    a link turns every active row of that external_userid into a Membership
    with the same join time. Rows keep their leave time like memberships do.
    """

    class Kind(models.IntegerChoices):
        # WeCom's member types in groupchat/get.
        STAFF = 1, _("企业成员")
        EXTERNAL = 2, _("外部联系人")

    group = models.ForeignKey(
        ServiceGroup, verbose_name=_("客户群"), on_delete=models.CASCADE, related_name="unlinked_members"
    )
    userid = models.CharField(_("企业微信ID"), max_length=64)
    kind = models.PositiveSmallIntegerField(_("成员类型"), choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=100, blank=True)
    group_nickname = models.CharField(_("群昵称"), max_length=100, blank=True)
    joined_at = models.DateTimeField(_("入群时间"), default=timezone.now)
    left_at = models.DateTimeField(_("退群时间"), null=True, blank=True)
    # When the owner's remark_mobiles (externalcontact/get) were last compared with the archive.
    mobiles_checked_at = models.DateTimeField(_("备注手机号核对时间"), null=True, blank=True)

    objects = UnlinkedMemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("未关联成员")
        verbose_name_plural = _("未关联成员")
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "userid"],
                condition=Q(left_at__isnull=True),
                name="unlinkedmember_one_active",
            ),
        ]
        indexes = [
            models.Index(fields=["userid"], condition=Q(left_at__isnull=True), name="unlinkedmember_userid"),
        ]

    def __str__(self) -> str:
        return self.name or self.userid
