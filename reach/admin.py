from django.contrib import admin

from reach.models import ReachNotice, ReachRecord


@admin.register(ReachNotice)
class ReachNoticeAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "sms_kind", "urgent", "created_at", "withdrawn_at")
    search_fields = ("key", "topic_key")
    readonly_fields = ("key", "topic_key", "dedupe_prefix", "created_at", "withdrawn_at")


@admin.register(ReachRecord)
class ReachRecordAdmin(admin.ModelAdmin):
    list_display = ("notice", "customer", "channel", "reason", "state", "call_state", "fallback_from")
    list_filter = ("channel", "state", "call_state", "reason")
    raw_id_fields = (
        "notice",
        "customer",
        "contact",
        "notification",
        "group",
        "broadcast",
        "call_assignee",
        "called_by",
    )
    list_select_related = ("notice", "customer")
