from django.contrib import admin

from reach.models import PersonalPost, ReachNotice, ReachRecord


@admin.register(ReachNotice)
class ReachNoticeAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "sms_kind", "urgent", "created_at", "fanned_out_at", "withdrawn_at")
    search_fields = ("key", "topic_key")
    readonly_fields = ("key", "topic_key", "dedupe_prefix", "created_at", "fanned_out_at", "withdrawn_at")


@admin.register(PersonalPost)
class PersonalPostAdmin(admin.ModelAdmin):
    """WeCom one-to-one 群发 tasks: written and followed by the workers, read here."""

    list_display = ("notice", "sender", "state", "reason", "msgid", "requested_at", "finished_at")
    list_filter = ("state",)
    search_fields = ("msgid", "sender_userid", "notice__key")
    list_select_related = ("notice", "sender")
    raw_id_fields = ("notice", "sender")
    readonly_fields = [field.name for field in PersonalPost._meta.fields if field.name != "id"]

    def has_add_permission(self, request) -> bool:
        return False


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
        "personal_post",
        "broadcast",
        "call_assignee",
        "called_by",
    )
    list_select_related = ("notice", "customer")
