from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from outages.models import Outage, OutageNotice


class NoticeInline(admin.TabularInline):
    model = OutageNotice
    extra = 0
    fields = ("kind_display", "due_at", "fanned_out_at", "cancelled_at", "personal_count", "broadcast_count")
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("通知类型"))
    def kind_display(self, notice: OutageNotice) -> str:
        # The stored kind is a code (advance-1d, delay-2); staff read its label.
        return notice.kind_label


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "reason", "status", "planned_start", "actual_start", "org_unit")
    list_filter = ("kind", "status")
    search_fields = ("reason", "external_id")
    raw_id_fields = ("lines", "districts", "created_by", "org_unit")
    readonly_fields = ("published_at", "status")
    inlines = [NoticeInline]
