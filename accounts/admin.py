from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.forms import AdminLoginForm
from accounts.models import OrgUnit, User

# Integration accounts are refused here as at the web login (accounts.forms).
admin.site.login_form = AdminLoginForm


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "level", "parent", "path")
    list_filter = ("level",)
    search_fields = ("name", "code")
    readonly_fields = ("path",)
    autocomplete_fields = ("parent",)


class OrgLevelFilter(admin.SimpleListFilter):
    """Users by the level of their unit (the related-field filter would be titled "Org unit level")."""

    title = _("单位层级")
    parameter_name = "org_unit__level"

    def lookups(self, request, model_admin):
        return OrgUnit.Level.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(org_unit__level=self.value())
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "real_name", "org_unit", "role", "masked_mobile", "is_active")
    list_filter = ("role", "is_active", OrgLevelFilter)
    search_fields = ("username", "real_name", "org_unit__name")
    autocomplete_fields = ("org_unit",)
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("客户经理身份"), {"fields": ("real_name", "mobile", "org_unit", "role", "wecom_userid")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (_("客户经理身份"), {"fields": ("real_name", "mobile", "org_unit", "role")}),
    )

    @admin.display(description=_("手机号码"))
    def masked_mobile(self, obj: User) -> str:
        return obj.masked_mobile
