from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.models import OrgUnit, mobile_validator
from accounts.scoping import ScopedQuerySet

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


class CustomerQuerySet(ScopedQuerySet):
    scope_owner_field = "manager"
    scope_unit_field = "station"

    def stale(self) -> "CustomerQuerySet":
        return self.filter(stale_q())

    def fresh(self) -> "CustomerQuerySet":
        cutoff = timezone.now() - timedelta(days=settings.ARCHIVE_STALE_DAYS)
        return self.filter(verified_at__gte=cutoff)

    def incomplete(self) -> "CustomerQuerySet":
        return self.filter(completeness__lt=100)

    def sensitive(self) -> "CustomerQuerySet":
        """Customers who must get one-to-one contact (seed 000 §03)."""
        q = Q(vip_tier__gt=0)
        for flag in SENSITIVITY_FLAGS:
            q |= Q(**{flag: True})
        return self.filter(q)


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
    kind = models.CharField(_("用电类别"), max_length=16, choices=Kind.choices, default=Kind.RESIDENT)
    segment = models.CharField(_("城乡"), max_length=8, choices=Segment.choices, default=Segment.URBAN)
    voltage = models.CharField(_("电压等级"), max_length=8, choices=Voltage.choices, blank=True)
    address = models.CharField(_("用电地址"), max_length=255, blank=True)
    station = models.ForeignKey(
        OrgUnit, verbose_name=_("供电所"), on_delete=models.PROTECT, related_name="customers"
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
    notes = models.TextField(_("备注"), blank=True)
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
    history = HistoricalRecords(excluded_fields=["updated_at", "completeness", "version", "sync_stamp"])

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
        return f"{self.name}（{self.number}）"

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

    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("联系人"), max_length=50)
    relation = models.CharField(_("关系"), max_length=16, choices=Relation.choices, default=Relation.SELF)
    mobile = models.CharField(_("手机号码"), max_length=11, blank=True, validators=[mobile_validator])
    landline = models.CharField(_("固定电话"), max_length=16, blank=True, validators=[landline_validator])
    wechat_id = models.CharField(_("微信号"), max_length=64, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    preferred_channel = models.CharField(
        _("首选联系方式"), max_length=8, choices=Channel.choices, default=Channel.PHONE
    )
    is_primary = models.BooleanField(_("主联系人"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        ordering = ["-is_primary", "id"]
        indexes = [models.Index(fields=["mobile"], name="contact_mobile")]
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
