from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications.models import Notification
from notifications.services import notifications_retry_now


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "subject",
        "channel",
        "status",
        "recipient",
        "recipient_label",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "created_at",
    )
    list_filter = ("status", "channel")
    search_fields = ("dedupe_key", "subject")
    list_select_related = ("recipient",)
    autocomplete_fields = ("recipient",)
    date_hierarchy = "created_at"
    # The outbox grows large: no COUNT(*) over the whole table on every page.
    show_full_result_count = False
    readonly_fields = (
        "dedupe_key",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "claim_token",
        "sent_at",
        "read_at",
        "last_error",
        "created_at",
    )
    actions = ("retry_now",)

    def has_add_permission(self, request) -> bool:
        # Rows are written by the services that decide them, with their dedupe key.
        return False

    @admin.action(description=_("立即重新发送所选通知"))
    def retry_now(self, request, queryset):
        count = notifications_retry_now(notifications=queryset)
        text = ngettext(
            "已安排 %(count)d 条通知立即重新发送。", "已安排 %(count)d 条通知立即重新发送。", count
        )
        self.message_user(request, text % {"count": count}, messages.SUCCESS)
