from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from customers.models import SENSITIVITY_FLAGS, Contact, Customer, District, Line, PhoneAccessLog
from customers.services import customer_refresh_completeness, customer_restore


class ContactInlineFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        primaries = [
            form
            for form in self.forms
            if form.cleaned_data.get("is_primary") and not form.cleaned_data.get("DELETE")
        ]
        if len(primaries) > 1:
            raise ValidationError(_("一个客户只能有一位主联系人。"))


class ContactInline(admin.TabularInline):
    model = Contact
    formset = ContactInlineFormSet
    extra = 0
    fields = Contact.EDITABLE_FIELDS


class DeletedFilter(admin.SimpleListFilter):
    title = _("删除状态")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", _("未删除")), ("yes", _("已删除"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = [
        "number",
        "name",
        "kind",
        "segment",
        "station",
        "district",
        "manager",
        "vip_tier",
        "completeness",
        "verified_at",
        "deleted_at",
    ]
    list_filter = [
        DeletedFilter,
        "kind",
        "segment",
        "voltage",
        "vip_tier",
        *SENSITIVITY_FLAGS,
        "station",
    ]
    search_fields = ["number", "name", "address", "contacts__mobile", "contacts__landline"]
    search_help_text = _("按户号、客户名称、用电地址或联系人电话搜索")
    list_select_related = ["station", "district", "manager"]
    autocomplete_fields = ["district", "line", "manager"]
    readonly_fields = ["completeness", "created_at", "updated_at", "deleted_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [ContactInline]
    actions = ["restore_archives"]

    def get_queryset(self, request):
        # Soft-deleted archives too: the administrator restores them here.
        queryset = Customer.all_objects.all()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    @admin.action(description=_("恢复所选的已删除档案"))
    def restore_archives(self, request, queryset):
        restored = 0
        for customer in queryset.filter(deleted_at__isnull=False):
            customer_restore(customer=customer, user=request.user)
            restored += 1
        self.message_user(request, _("已恢复 %(count)d 份档案。") % {"count": restored}, messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Contacts saved by the inline change the score as much as the archive fields do.
        customer_refresh_completeness(customer=form.instance)


@admin.register(Line)
class LineAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "station", "voltage_kv"]
    list_filter = ["station"]
    list_select_related = ["station"]
    search_fields = ["code", "name"]


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "station", "line", "manager", "capacity_kva"]
    list_filter = ["station"]
    list_select_related = ["station", "line", "manager"]
    search_fields = ["code", "name", "line__name"]
    autocomplete_fields = ["line", "manager"]


class IntegrationAccountFilter(admin.RelatedOnlyFieldListFilter):
    """The accounts that have read phones in full (integration accounts), not every user."""


@admin.register(PhoneAccessLog)
class PhoneAccessLogAdmin(admin.ModelAdmin):
    """For review only: written by customers.phone_access, never edited or deleted here."""

    list_display = ["at", "user", "endpoint", "count", "numbers_preview"]
    list_filter = [("user", IntegrationAccountFilter), "at"]
    date_hierarchy = "at"
    # A number matches inside the stored list (the JSON text), so part of a number finds it too.
    search_fields = ["numbers"]
    search_help_text = _("按户号搜索")
    list_select_related = ["user"]
    fields = ["at", "user", "endpoint", "count", "numbers"]
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description=_("户号"))
    def numbers_preview(self, obj: PhoneAccessLog) -> str:
        shown = obj.numbers[:5]
        more = obj.count - len(shown)
        return "、".join(shown) + (_("等%(count)d户") % {"count": obj.count} if more > 0 else "")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
