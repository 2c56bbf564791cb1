import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models import OrgUnit, mobile_validator
from accounts.scoping import ScopedQuerySet, subtree_unit_ids
from core.text import TEXT_LENGTH, limited
from customers.pinyin import name_pinyin

customer_number_validator = RegexValidator(r"^\d{10,13}$", _("户号必须是10到13位数字。"))
landline_validator = RegexValidator(
    r"^0\d{2,3}-?\d{7,8}$", _("请输入固定电话，区号加号码，例如 0855-8123456。")
)


class LineQuerySet(ScopedQuerySet):
    scope_owner_field = None
    scope_unit_field = "station"


class DistrictQuerySet(ScopedQuerySet):
    scope_owner_field = "manager"
    scope_unit_field = "station"


class Line(models.Model):
    """A feeder line (线路/馈线) run by a station."""

    code = models.CharField(_("线路编码"), max_length=32, unique=True)
    name = models.CharField(_("线路名称"), max_length=100)
    station = models.ForeignKey(
        OrgUnit, verbose_name=_("供电所"), on_delete=models.PROTECT, related_name="lines"
    )
    voltage_kv = models.DecimalField(_("电压等级(kV)"), max_digits=6, decimal_places=1, default=10)

    objects = LineQuerySet.as_manager()

    class Meta:
        verbose_name = _("线路")
        verbose_name_plural = _("线路")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class District(models.Model):
    """A transformer district (台区): the low-voltage area behind one transformer."""

    code = models.CharField(_("台区编码"), max_length=32, unique=True)
    name = models.CharField(_("台区名称"), max_length=100)
    station = models.ForeignKey(
        OrgUnit, verbose_name=_("供电所"), on_delete=models.PROTECT, related_name="districts"
    )
    line = models.ForeignKey(
        Line, verbose_name=_("所属线路"), on_delete=models.PROTECT, related_name="districts"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("台区客户经理"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="districts",
    )
    capacity_kva = models.PositiveIntegerField(_("变压器容量(kVA)"), default=400)

    objects = DistrictQuerySet.as_manager()

    class Meta:
        verbose_name = _("台区")
        verbose_name_plural = _("台区")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


def stale_q() -> Q:
    """Archives not verified within ARCHIVE_STALE_DAYS (never verified counts as stale)."""
    cutoff = timezone.now() - timedelta(days=settings.ARCHIVE_STALE_DAYS)
    return Q(verified_at__isnull=True) | Q(verified_at__lt=cutoff)


def sensitive_q(prefix: str = "") -> Q:
    """Customers who must get one-to-one contact (seed 000 §03): a VIP tier or any sensitivity flag.

    `prefix` reaches the customer from another model, e.g. "customer__".
    """
    q = Q(**{f"{prefix}vip_tier__gt": 0})
    for flag in SENSITIVITY_FLAGS:
        q |= Q(**{f"{prefix}{flag}": True})
    return q


def fill_name_pinyin(customers) -> None:
    """Set each customer's name_pinyin from its name: what save() does, for the bulk paths."""
    for customer in customers:
        customer.name_pinyin = name_pinyin(customer.name)


class CustomerQuerySet(ScopedQuerySet):
    scope_owner_field = "manager"
    scope_unit_field = "station"

    # The name's pinyin follows the name on the bulk paths too (imports, upserts, the demo).
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        fill_name_pinyin(objs)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        fields = list(fields)
        if "name" in fields:
            objs = list(objs)
            for customer in objs:
                customer.name_pinyin = name_pinyin(customer.name)
            if "name_pinyin" not in fields:
                fields.append("name_pinyin")
        return super().bulk_update(objs, fields, *args, **kwargs)

    def stale(self) -> "CustomerQuerySet":
        return self.filter(stale_q())

    def fresh(self) -> "CustomerQuerySet":
        cutoff = timezone.now() - timedelta(days=settings.ARCHIVE_STALE_DAYS)
        return self.filter(verified_at__gte=cutoff)

    def incomplete(self) -> "CustomerQuerySet":
        return self.filter(completeness__lt=100)

    def sensitive(self) -> "CustomerQuerySet":
        return self.filter(sensitive_q())


class AliveCustomerManager(models.Manager.from_queryset(CustomerQuerySet)):
    """Soft-deleted archives are gone for pages; the sync API reads `all_objects`."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Customer(models.Model):
    class Kind(models.TextChoices):
        RESIDENT = "resident", _("居民")
        COMMERCIAL = "commercial", _("一般工商业")
        LARGE_INDUSTRY = "industry", _("大工业")
        AGRICULTURE = "agriculture", _("农业")
        OTHER = "other", _("其他")

    class Segment(models.TextChoices):
        URBAN = "urban", _("城市")
        RURAL = "rural", _("农村")

    class Voltage(models.TextChoices):
        V220 = "220V", "220V"
        V380 = "380V", "380V"
        KV10 = "10kV", "10kV"
        KV35 = "35kV", "35kV"
        KV110 = "110kV", "110kV"
        KV220 = "220kV", "220kV"

    class VipTier(models.IntegerChoices):
        NONE = 0, _("非VIP")
        VIP = 1, _("VIP")
        KEY_VIP = 2, _("重要VIP")
        STRATEGIC = 3, _("战略VIP")

    number = models.CharField(_("户号"), max_length=13, unique=True, validators=[customer_number_validator])
    name = models.CharField(_("客户名称"), max_length=100)
    # "zhulixia zlx" for 朱丽霞 (customers.pinyin), kept by save() and the bulk paths.
    # Nullable so that SQLite adds the column in place: rebuilding the table would
    # trip the sync triggers of other tables that name it.
    name_pinyin = models.TextField(_("名称拼音"), null=True, blank=True, editable=False)  # noqa: DJ001
    kind = models.CharField(_("用电类别"), max_length=16, choices=Kind.choices, default=Kind.RESIDENT)
    segment = models.CharField(_("城乡"), max_length=8, choices=Segment.choices, default=Segment.URBAN)
    voltage = models.CharField(_("电压等级"), max_length=8, choices=Voltage.choices, blank=True)
    address = models.CharField(_("用电地址"), max_length=255, blank=True)
    # No index of its own: `customer_station_id` (station, id) serves every look-up by
    # station, and a second index on the station alone lures the planner into reading
    # a station's every row and sorting them for a page of one station's newest.
    station = models.ForeignKey(
        OrgUnit, verbose_name=_("供电所"), on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    district = models.ForeignKey(
        District,
        verbose_name=_("台区"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    line = models.ForeignKey(
        Line,
        verbose_name=_("线路"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("客户经理"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    vip_tier = models.PositiveSmallIntegerField(_("VIP等级"), choices=VipTier.choices, default=VipTier.NONE)
    is_high_sensitivity = models.BooleanField(_("高敏客户"), default=False)
    is_important = models.BooleanField(_("重要客户"), default=False)
    is_key_attention = models.BooleanField(_("重点关注"), default=False)
    is_special = models.BooleanField(_("特殊客户"), default=False)
    is_sensitive = models.BooleanField(_("敏感客户"), default=False)
    wechat_bound = models.BooleanField(_("已绑定公众号"), default=False)
    verified_at = models.DateTimeField(_("档案核实时间"), null=True, blank=True)
    # Share of the archive's key fields that are filled in, 0–100; kept by
    # customers.services so that lists can filter and sort on it in SQL.
    completeness = models.PositiveSmallIntegerField(_("档案完整度"), default=0, editable=False)
    notes = models.TextField(_("备注"), blank=True, **limited(TEXT_LENGTH))
    created_at = models.DateTimeField(_("建档时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    deleted_at = models.DateTimeField(_("删除时间"), null=True, blank=True, editable=False)
    # Both kept by database triggers (migration 0003), so that every write counts,
    # whether it comes from a service, the admin, bulk_update() or raw SQL:
    # `version` goes up by one on each update of the row or of one of its
    # contacts (the API's ETag); `sync_stamp` orders the sync feed (see
    # customers.api.sync). Values held in memory after a save are stale.
    version = models.PositiveIntegerField(_("版本"), default=1, editable=False)
    sync_stamp = models.BigIntegerField(_("同步序号"), default=0, editable=False)

    objects = AliveCustomerManager()
    all_objects = CustomerQuerySet.as_manager()
    history = HistoricalRecords(
        excluded_fields=["updated_at", "completeness", "version", "sync_stamp", "name_pinyin"]
    )

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        base_manager_name = "all_objects"
        indexes = [
            models.Index(fields=["station", "id"], name="customer_station_id"),
            models.Index(fields=["manager", "id"], name="customer_manager_id"),
            models.Index(fields=["verified_at"], name="customer_verified_at"),
            models.Index(fields=["sync_stamp", "id"], name="customer_sync_stamp_id"),
        ]

    def __str__(self) -> str:
        return gettext("%(name)s（%(detail)s）") % {"name": self.name, "detail": self.number}

    def save(self, *args, **kwargs):
        self.name_pinyin = name_pinyin(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields and "name_pinyin" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "name_pinyin"]
        super().save(*args, **kwargs)

    @property
    def sensitivity_labels(self) -> list[str]:
        labels = [
            str(self._meta.get_field(flag).verbose_name) for flag in SENSITIVITY_FLAGS if getattr(self, flag)
        ]
        if self.vip_tier:
            labels.append(str(self.get_vip_tier_display()))
        return labels

    @property
    def needs_one_to_one(self) -> bool:
        """High-sensitivity, important or VIP customers never get only a group message."""
        return bool(self.sensitivity_labels)

    @property
    def is_stale(self) -> bool:
        if self.verified_at is None:
            return True
        return self.verified_at < timezone.now() - timedelta(days=settings.ARCHIVE_STALE_DAYS)

    def owned_by(self, user) -> bool:
        return user is not None and user.is_authenticated and self.manager_id == user.pk


SENSITIVITY_FLAGS = ("is_high_sensitivity", "is_important", "is_key_attention", "is_special", "is_sensitive")

# The archive fields people and systems write, in the order forms, the API
# and the history show them. `completeness`, `verified_at` and the stamps are
# kept by the services and triggers, never written directly.
ARCHIVE_FIELDS = (
    "number",
    "name",
    "kind",
    "segment",
    "voltage",
    "address",
    "station",
    "district",
    "line",
    "manager",
    "vip_tier",
    "is_high_sensitivity",
    "is_important",
    "is_key_attention",
    "is_special",
    "is_sensitive",
    "wechat_bound",
    "notes",
)


class Contact(models.Model):
    class Relation(models.TextChoices):
        SELF = "self", _("本人")
        FAMILY = "family", _("家属")
        ELECTRICIAN = "electrician", _("电工")
        FINANCE = "finance", _("财务")
        LEGAL = "legal", _("法人代表")
        OTHER = "other", _("其他")

    class Channel(models.TextChoices):
        PHONE = "phone", _("电话")
        SMS = "sms", _("短信")
        WECHAT = "wechat", _("微信")
        EMAIL = "email", _("邮件")
        VISIT = "visit", _("上门")

    # The fields people and systems write, in the order forms, the API and the history show them.
    EDITABLE_FIELDS = (
        "name",
        "relation",
        "mobile",
        "landline",
        "wechat_id",
        "email",
        "preferred_channel",
        "is_primary",
    )
    # Masked for users who do not own the customer.
    PHONE_FIELDS = ("mobile", "landline")

    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("联系人"), max_length=50)
    relation = models.CharField(_("关系"), max_length=16, choices=Relation.choices, default=Relation.SELF)
    mobile = models.CharField(_("手机号码"), max_length=11, blank=True, validators=[mobile_validator])
    landline = models.CharField(_("固定电话"), max_length=16, blank=True, validators=[landline_validator])
    wechat_id = models.CharField(_("微信号"), max_length=64, blank=True)
    # WeCom's id of this person as an external contact of the corporation
    # (external_userid): how group members and archived chat senders are linked.
    wecom_external_userid = models.CharField(_("企业微信外部联系人ID"), max_length=64, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    preferred_channel = models.CharField(
        _("首选联系方式"), max_length=8, choices=Channel.choices, default=Channel.PHONE
    )
    is_primary = models.BooleanField(_("主联系人"), default=False)
    # A phone call found the number wrong (reach call list): the archive wants it corrected.
    phone_flagged_at = models.DateTimeField(_("号码待核实"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        ordering = ["-is_primary", "id"]
        indexes = [
            models.Index(fields=["mobile"], name="contact_mobile"),
            # The customer search looks a landline up as it looks a mobile up.
            models.Index(fields=["landline"], condition=~Q(landline=""), name="contact_landline"),
            models.Index(
                fields=["wecom_external_userid"],
                condition=~Q(wecom_external_userid=""),
                name="contact_wecom_external",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_primary=True),
                name="contact_one_primary_per_customer",
                violation_error_message=_("每位客户只能有一位主联系人。"),
            ),
            models.CheckConstraint(
                condition=~Q(mobile="") | ~Q(landline=""),
                name="contact_has_a_phone",
                violation_error_message=_("请至少填写手机号码或固定电话之一。"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def phone(self) -> str:
        return self.mobile or self.landline


class CustomerSyncDoc(models.Model):
    """A customer's row of the sync feed as JSON text, kept by PostgreSQL triggers.

    Written in the same transaction as the customer's stamp (see
    customers.sync_triggers, migration 0006), so a page of the feed is read,
    not built. Empty on SQLite, where the feed builds its rows in Python.
    `DO_NOTHING`: the triggers delete the row with its customer, before the
    (deferred) foreign key is checked.
    """

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("客户"),
        primary_key=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
    )
    # The row is `head + contacts` for the customer's account manager and
    # `head + contacts_masked` (phones masked) for everybody else; the
    # latter is null when a phone holds more than printable ASCII (masked in Python then).
    head = models.TextField(_("同步行"))
    contacts = models.TextField(_("联系人（同步行）"))
    contacts_masked = models.TextField(_("联系人（号码脱敏）"), null=True)

    class Meta:
        verbose_name = _("客户同步行")
        verbose_name_plural = _("客户同步行")

    def __str__(self) -> str:
        return str(self.customer_id)


class SyncEpoch(models.Model):
    """What a sync cursor is issued for besides its user: this database's feed (one row, id 1).

    `epoch` is random; a cursor signed under another epoch answers 410. On
    PostgreSQL `origin` names the cluster and the database (system identifier
    and database oid): a dump restored elsewhere carries the row of its source,
    the feed sees the mismatch, re-bases the stamps (raw transaction ids of the
    old cluster mean nothing in the new one) and draws a new epoch
    (customers.api.sync). Triggers bump `scope_generation` when an org unit
    moves in the tree (supervisors' scopes change under their cursors) and
    `units_version` on any change of the tree (key of the cached unit ids).
    """

    epoch = models.UUIDField(_("同步纪元"), default=uuid.uuid4)
    origin = models.CharField(_("数据库标识"), max_length=64, blank=True)
    scope_generation = models.PositiveIntegerField(_("范围代次"), default=1)
    units_version = models.PositiveIntegerField(_("组织树版本"), default=1)

    class Meta:
        verbose_name = _("同步纪元")
        verbose_name_plural = _("同步纪元")

    def __str__(self) -> str:
        return str(self.epoch)


class CustomerSyncExitQuerySet(ScopedQuerySet):
    # Scoped by where the archive was: the users who saw it there get the tombstone.
    scope_owner_field = "manager"
    scope_unit_field = "station"


class CustomerSyncExit(models.Model):
    """An archive that left a place in the feed: moved off a station or manager, or hard deleted.

    Written by database triggers (customers.sync_triggers, migration 0012) in
    the writing transaction, stamped like the customer row. The feed sends a
    tombstone for it to each user who could see the archive where it was and
    cannot see it now. No foreign keys: the row outlives the archive and units.
    """

    class Reason(models.TextChoices):
        OUT_OF_SCOPE = "out_of_scope", _("移出可见范围")
        DELETED = "deleted", _("已删除")

    customer_pk = models.BigIntegerField(_("客户ID"))
    number = models.CharField(_("户号"), max_length=13)
    station = models.ForeignKey(
        OrgUnit,
        verbose_name=_("原供电所"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("原客户经理"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reason = models.CharField(_("原因"), max_length=16, choices=Reason.choices)
    sync_stamp = models.BigIntegerField(_("同步序号"))

    objects = CustomerSyncExitQuerySet.as_manager()

    class Meta:
        verbose_name = _("同步移出记录")
        verbose_name_plural = _("同步移出记录")
        indexes = [models.Index(fields=["sync_stamp", "customer_pk"], name="customer_sync_exit_stamp")]

    def __str__(self) -> str:
        return self.number


class ImportJob(models.Model):
    """One uploaded archive file on its way in: validated, previewed, confirmed, written.

    The file's bytes live in the row (at most 5 MB), so any worker host can
    read them without shared storage. See customers.imports for the rules.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("等待校验")
        VALIDATING = "validating", _("正在校验")
        VALIDATED = "validated", _("待确认")
        QUEUED = "queued", _("等待导入")
        IMPORTING = "importing", _("正在导入")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    class Format(models.TextChoices):
        XLSX = "xlsx", "Excel (.xlsx)"
        CSV = "csv", "CSV"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("导入人"),
        on_delete=models.CASCADE,
        related_name="import_jobs",
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    file_format = models.CharField(_("文件格式"), max_length=8, choices=Format.choices)
    content = models.BinaryField(_("文件内容"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(_("总行数"), default=0)
    processed = models.PositiveIntegerField(_("已处理行数"), default=0)
    created_count = models.PositiveIntegerField(_("新建"), default=0)
    updated_count = models.PositiveIntegerField(_("更新"), default=0)
    unchanged_count = models.PositiveIntegerField(_("无变化"), default=0)
    rejected_count = models.PositiveIntegerField(_("有误"), default=0)
    # Every bad row: [line number, column header, message].
    errors = models.JSONField(_("错误明细"), default=list, blank=True)
    failure = models.TextField(_("失败原因"), blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("档案导入")
        verbose_name_plural = _("档案导入")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.processed / self.total)) if self.total else 0

    @property
    def is_running(self) -> bool:
        return self.status in {
            self.Status.PENDING,
            self.Status.VALIDATING,
            self.Status.QUEUED,
            self.Status.IMPORTING,
        }


class ExportJob(models.Model):
    """A customer export too large to write while the browser waits (customers.exports).

    A worker writes the workbook into the media storage, which the web
    processes and the workers share; the file is kept for
    CUSTOMER_EXPORT_KEEP_HOURS and only its creator may download it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("正在生成")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("导出人"),
        on_delete=models.CASCADE,
        related_name="export_jobs",
    )
    # The list's filters as the request gave them (customers.filtersets reads them again).
    params = models.JSONField(_("筛选条件"), default=dict, blank=True)
    language = models.CharField(_("语言"), max_length=16)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("总行数"), default=0)
    processed = models.PositiveIntegerField(_("已写行数"), default=0)
    file = models.FileField(_("文件"), upload_to="exports/%Y/%m/", blank=True)
    failure = models.TextField(_("失败原因"), blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    # Moves while a worker writes (every batch of rows): a job left queued or running
    # without a move for CUSTOMER_EXPORT_STALE_SECONDS is queued again by the sweep.
    heartbeat_at = models.DateTimeField(_("最近进展"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("档案导出")
        verbose_name_plural = _("档案导出")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="export_job_status_beat")]

    def __str__(self) -> str:
        return f"{self.created_by_id}:{self.pk}"

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.processed / self.total)) if self.total else 0

    @property
    def is_running(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}


class InteractionQuerySet(ScopedQuerySet):
    """Contacts are seen through their customer; the staff member who made one sees it too."""

    scope_owner_field = "customer__manager"
    scope_unit_field = "customer__station"

    def also_visible_to(self, user) -> Q:
        return Q(staff=user)


class Interaction(models.Model):
    """One contact with a customer (联系记录): who, how, when, what was said, how the customer felt."""

    class Channel(models.TextChoices):
        WECHAT_GROUP = "wechat_group", _("微信群")
        WECHAT_PRIVATE = "wechat_private", _("微信私聊")
        PHONE = "phone", _("电话")
        SMS = "sms", _("短信")
        EMAIL = "email", _("邮件")
        QQ = "qq", _("QQ")
        WEIBO = "weibo", _("微博")
        HALL = "hall", _("营业厅")
        VISIT = "visit", _("上门")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("客户来访/来电")
        OUTBOUND = "outbound", _("主动联系")

    class Mood(models.TextChoices):
        CALM = "calm", _("平静")
        DISSATISFIED = "dissatisfied", _("不满")
        ANGRY = "angry", _("愤怒")

    # Channels that count as one-to-one contact for sensitive customers (seed 000 §03).
    ONE_TO_ONE_CHANNELS = (Channel.PHONE, Channel.WECHAT_PRIVATE, Channel.VISIT, Channel.SMS)
    # The seven steps of a contact (seed 000 §04), in order.
    STEP_FIELDS = (
        "step_find_cause",
        "step_listen",
        "step_avoid_argument",
        "step_right_side",
        "step_apologise",
        "step_empathise",
        "step_solution",
    )
    # What a contact-log entry is written with (its service, form and API).
    LOG_FIELDS = (
        "channel",
        "direction",
        "occurred_at",
        "summary",
        "mood",
        "ticket_number",
        "next_follow_up",
        *STEP_FIELDS,
    )

    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="interactions"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("联系人员"),
        on_delete=models.PROTECT,
        related_name="interactions",
    )
    channel = models.CharField(_("联系渠道"), max_length=16, choices=Channel.choices)
    direction = models.CharField(
        _("方向"), max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    occurred_at = models.DateTimeField(_("联系时间"))
    summary = models.TextField(_("联系内容"), **limited(TEXT_LENGTH))
    mood = models.CharField(_("客户情绪"), max_length=16, choices=Mood.choices, default=Mood.CALM)
    # The work order's number (customers never import tickets: the number is the link).
    TICKET_NUMBER_LENGTH = 20
    ticket_number = models.CharField(_("关联工单编号"), max_length=TICKET_NUMBER_LENGTH, blank=True)
    next_follow_up = models.DateField(_("下次跟进日期"), null=True, blank=True)
    step_find_cause = models.BooleanField(_("找准原因"), default=False)
    step_listen = models.BooleanField(_("耐心倾听"), default=False)
    step_avoid_argument = models.BooleanField(_("避免争论"), default=False)
    step_right_side = models.BooleanField(_("站对立场"), default=False)
    step_apologise = models.BooleanField(_("及时道歉"), default=False)
    step_empathise = models.BooleanField(_("换位思考"), default=False)
    step_solution = models.BooleanField(_("给出方案"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("记录人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = InteractionQuerySet.as_manager()

    class Meta:
        verbose_name = _("联系记录")
        verbose_name_plural = _("联系记录")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="interaction_customer_time"),
            models.Index(fields=["staff", "occurred_at"], name="interaction_staff_time"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} · {self.get_channel_display()} · {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def steps_done(self) -> list[str]:
        return [
            str(self._meta.get_field(name).verbose_name) for name in self.STEP_FIELDS if getattr(self, name)
        ]


class VisitQuerySet(ScopedQuerySet):
    scope_owner_field = "customer__manager"
    scope_unit_field = "customer__station"

    def also_visible_to(self, user) -> Q:
        return Q(staff=user)

    def visible_to(self, user, *, unit_ids: "bool | list[int]" = False) -> "VisitQuerySet":
        """A district visit (a long outage: no single customer) is seen by its staff
        and by the supervisors over the district's station."""
        scoped = super().visible_to(user, unit_ids=unit_ids)
        if self.settled_for(user) is None and user.is_supervisor:
            ids = unit_ids if isinstance(unit_ids, list) else subtree_unit_ids(user)
            scoped = scoped | self.filter(customer__isnull=True, district__station__in=ids)
        return scoped

    def open(self) -> "VisitQuerySet":
        return self.filter(done_at__isnull=True)


class Visit(models.Model):
    """A visit to the customer (走访/上门), prepared in advance (seed 000 §04)."""

    class Purpose(models.TextChoices):
        ROUTINE = "routine", _("VIP/敏感客户例行走访")
        OUTAGE = "outage", _("停电现场服务")
        ARCHIVE_CHECK = "archive_check", _("档案核实")
        COMPLAINT_FOLLOW_UP = "complaint", _("投诉回访跟进")

    # The preparation before a visit (seed 000 §04), in order.
    PREPARATION_FIELDS = ("prep_basics_reviewed", "prep_cause", "prep_solution")

    # A visit is to one customer, or (on-site service in a long outage) to a whole district.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("客户"),
        on_delete=models.CASCADE,
        related_name="visits",
        null=True,
        blank=True,
    )
    district = models.ForeignKey(
        District,
        verbose_name=_("台区"),
        on_delete=models.CASCADE,
        related_name="visits",
        null=True,
        blank=True,
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("走访人员"), on_delete=models.PROTECT, related_name="visits"
    )
    purpose = models.CharField(_("走访目的"), max_length=16, choices=Purpose.choices)
    scheduled_at = models.DateTimeField(_("计划时间"))
    appointment_confirmed = models.BooleanField(_("已与客户预约"), default=False)
    confirmed_at = models.DateTimeField(_("预约确认时间"), null=True, blank=True)
    prep_basics_reviewed = models.BooleanField(_("已掌握客户基本信息"), default=False)
    prep_cause = models.TextField(_("诉求缘由"), blank=True, **limited(TEXT_LENGTH))
    prep_solution = models.TextField(_("初步解决方案"), blank=True, **limited(TEXT_LENGTH))
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    outcome = models.TextField(_("走访结果"), blank=True, **limited(TEXT_LENGTH))
    # Set by automation that must create a visit once (e.g. `routine:<customer>:<yyyy-mm>`).
    origin_key = models.CharField(_("来源标识"), max_length=100, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("走访")
        verbose_name_plural = _("走访")
        ordering = ["scheduled_at", "id"]
        indexes = [
            models.Index(fields=["staff", "scheduled_at"], name="visit_staff_scheduled"),
            models.Index(fields=["customer", "scheduled_at"], name="visit_customer_scheduled"),
        ]

    def __str__(self) -> str:
        whom = self.customer_id or f"district:{self.district_id}"
        return f"{whom} · {self.get_purpose_display()} · {self.scheduled_at:%Y-%m-%d %H:%M}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_prepared(self) -> bool:
        return (
            self.prep_basics_reviewed and bool(self.prep_cause.strip()) and bool(self.prep_solution.strip())
        )


class PhoneAccessLog(models.Model):
    """An API response in which an integration account read phone numbers in full.

    One row per response, listing the archive numbers it showed: a sync page of
    1,000 archives is one insert, not a thousand (customers.phone_access).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("账号"),
        # Kept as evidence: an account that read phones is deactivated, not deleted.
        on_delete=models.PROTECT,
        related_name="phone_reads",
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    endpoint = models.CharField(_("接口"), max_length=255)
    numbers = models.JSONField(_("户号"), default=list)
    count = models.PositiveIntegerField(_("档案数"))

    class Meta:
        verbose_name = _("号码明文访问记录")
        verbose_name_plural = _("号码明文访问记录")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"], name="phone_access_at"),
            models.Index(fields=["user", "at"], name="phone_access_user_at"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.endpoint} ({self.count})"
