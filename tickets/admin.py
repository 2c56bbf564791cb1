from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from tickets.models import Attachment, Resolution, ReturnVisit, SlaPolicy, Ticket, TicketEvent, Transfer


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "category",
        "urgency",
        "sensitive_only",
        "sign_minutes",
        "resolve_minutes",
        "warn_percent",
        "return_visit_hours",
        "escalation_minutes",
        "is_active",
    )
    list_filter = ("kind", "is_active", "sensitive_only")
    list_editable = ("sign_minutes", "resolve_minutes", "warn_percent", "return_visit_hours", "is_active")


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    readonly_fields = ("action", "actor", "from_status", "to_status", "note", "changes", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


class TransferInline(admin.TabularInline):
    model = Transfer
    extra = 0
    fk_name = "ticket"
    readonly_fields = ("from_unit", "from_user", "to_unit", "to_user", "reason", "tracker", "created_at")

    def has_add_permission(self, request, obj=None):
        return False


class ReturnVisitInline(admin.TabularInline):
    model = ReturnVisit
    extra = 0
    readonly_fields = ("due_at", "method", "result", "note", "visited_by", "visited_at")

    def has_add_permission(self, request, obj=None):
        return False


class ResolutionInline(admin.TabularInline):
    model = Resolution
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "text", "commitment", "commitment_due", "resolved_by", "resolved_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(SimpleHistoryAdmin):
    """Read-mostly: every step of an order goes through tickets.services."""

    list_display = ("number", "title", "kind", "urgency", "status", "org_unit", "assignee", "resolve_due_at")
    list_filter = ("status", "kind", "category", "urgency", "source", "is_repeat")
    search_fields = ("number", "external_id", "title", "customer__number", "customer__name")
    list_select_related = ("org_unit", "assignee")
    raw_id_fields = ("customer", "repeat_of", "related")
    # The columns the database computes (attention_*) are bookkeeping, not part of the order.
    readonly_fields = [f.name for f in Ticket._meta.fields if not f.generated]
    inlines = [TicketEventInline, ResolutionInline, TransferInline, ReturnVisitInline]


admin.site.register(Attachment)
