from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.phones import mask_phone

mobile_validator = RegexValidator(r"^1[3-9]\d{9}$", _("请输入11位手机号码，例如 13595561234。"))


def ancestor_paths(path: str) -> list[str]:
    """The paths of a unit and every unit above it, top first: "/GZ/QDN/" → ["/GZ/", "/GZ/QDN/"]."""
    codes = path.strip("/").split("/")
    return ["/" + "/".join(codes[: i + 1]) + "/" for i in range(len(codes))]


class OrgUnitQuerySet(models.QuerySet):
    def subtree_of(self, unit: "OrgUnit") -> "OrgUnitQuerySet":
        """The unit and everything under it: one indexed prefix query."""
        return self.filter(path__startswith=unit.path)


class OrgUnit(models.Model):
    """A node of the grid company's tree: province → prefecture → county → station."""

    class Level(models.IntegerChoices):
        PROVINCE = 1, _("省公司")
        PREFECTURE = 2, _("地市供电局")
        COUNTY = 3, _("县区供电局")
        STATION = 4, _("供电所")

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.PositiveSmallIntegerField(_("层级"), choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # Materialized path of codes ("/GZ/KL/LS/"): a subtree is a prefix match
    # served by the index, never a walk over parents in Python.
    path = models.CharField(_("路径"), max_length=255, unique=True, editable=False)

    objects = OrgUnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        old_path = self.path
        self.path = f"{self.parent.path if self.parent_id else '/'}{self.code}/"
        super().save(*args, **kwargs)
        if old_path and old_path != self.path:
            # Moving or renaming a unit moves its whole subtree.
            for child in OrgUnit.objects.filter(parent=self):
                child.save()

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.parent_id and self.parent.level >= self.level:
            raise ValidationError({"parent": _("上级单位的层级必须高于本单位。")})

    def is_within(self, other: "OrgUnit") -> bool:
        return self.path.startswith(other.path)


class User(AbstractUser):
    class Role(models.TextChoices):
        ACCOUNT_MANAGER = "manager", _("客户经理")
        SUPERVISOR = "supervisor", _("监控主管")
        ADMINISTRATOR = "admin", _("系统管理员")
        # A system (95598, marketing, the mobile back end) reading and writing
        # the archives of its unit's subtree over the API: token only, no web login.
        INTEGRATION = "integration", _("系统对接账号")

    real_name = models.CharField(_("姓名"), max_length=50)
    mobile = models.CharField(_("手机号码"), max_length=11, blank=True, validators=[mobile_validator])
    org_unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("所属单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.ACCOUNT_MANAGER)
    # The member's account in the corporation's 企业微信: reminders go there as
    # app messages, and WeCom sign-in (OAuth2) finds the user by it.
    wecom_userid = models.CharField(
        _("企业微信账号"),
        max_length=64,
        blank=True,
        help_text=_("企业微信通讯录中的 userid，用于应用消息提醒和企业微信登录。"),
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            models.UniqueConstraint(
                fields=["wecom_userid"],
                condition=~models.Q(wecom_userid=""),
                name="user_unique_wecom_userid",
                violation_error_message=_("该企业微信账号已绑定其他用户。"),
            ),
        ]

    def __str__(self) -> str:
        return self.real_name or self.username

    @property
    def is_administrator(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMINISTRATOR

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR

    @property
    def is_account_manager(self) -> bool:
        return self.role == self.Role.ACCOUNT_MANAGER

    @property
    def is_integration(self) -> bool:
        return self.role == self.Role.INTEGRATION

    @property
    def sees_subtree(self) -> bool:
        """Reads reach the whole subtree of the user's unit (accounts.scoping)."""
        return self.role in (self.Role.SUPERVISOR, self.Role.INTEGRATION)

    def clean(self):
        super().clean()
        if self.is_integration:
            # Its scope is its unit's subtree, and it never signs in to the web or the admin.
            errors = {}
            if not self.org_unit_id:
                errors["org_unit"] = _("系统对接账号必须绑定所属单位。")
            if self.is_staff or self.is_superuser:
                errors["role"] = _("系统对接账号不能登录管理后台，请取消“职员状态”和“超级用户状态”。")
            if errors:
                from django.core.exceptions import ValidationError

                raise ValidationError(errors)

    @property
    def title(self) -> str:
        """The role as a customer reads it; account managers' tier follows the unit."""
        if self.is_account_manager and self.org_unit_id:
            return str(TIER_TITLES[self.org_unit.level])
        return str(self.get_role_display())

    @property
    def masked_mobile(self) -> str:
        return mask_phone(self.mobile)

    @property
    def identity_card(self) -> str:
        """Real-name identity shown to customers (seed 000 §02): 张三 · 雷山供电所 客户经理 · 135****1234."""
        parts = [self.real_name or self.username]
        unit_and_title = " ".join(
            p for p in (self.org_unit.name if self.org_unit_id else "", self.title) if p
        )
        parts.append(unit_and_title)
        if self.mobile:
            parts.append(self.masked_mobile)
        return " · ".join(parts)


TIER_TITLES = {
    OrgUnit.Level.PROVINCE: _("省公司客户经理"),
    OrgUnit.Level.PREFECTURE: _("地市客户经理"),
    OrgUnit.Level.COUNTY: _("县级客户经理"),
    OrgUnit.Level.STATION: _("客户经理"),
}
