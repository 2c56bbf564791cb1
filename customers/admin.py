from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from customers.models import SENSITIVITY_FLAGS, Contact, Customer, District, Line
from customers.services import customer_refresh_completeness


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
    ]
    list_filter = [
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
