from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from wecom import status
from wecom.models import CallbackEvent, StatusMark
from wecom.services import callback_events_retry_now


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the connection itself: looked at, never edited by hand."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CallbackEvent)
class CallbackEventAdmin(ReadOnlyAdmin):
    list_display = ("event", "change_type", "status", "attempts", "received_at", "processed_at", "last_error")
    list_filter = ("status", "event")
    search_fields = ("dedupe_key",)
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ("retry_now",)

    @admin.action(description=_("重新处理所选事件"), permissions=["view"])
    def retry_now(self, request, queryset):
        count = callback_events_retry_now(events=queryset)
        text = ngettext("已安排 %(count)d 个事件重新处理。", "已安排 %(count)d 个事件重新处理。", count)
        self.message_user(request, text % {"count": count}, messages.SUCCESS)


@admin.register(StatusMark)
class StatusAdmin(ReadOnlyAdmin):
    """The status page: whether WeCom is configured, tokens, last reconcile, callback and error."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("企业微信连接状态"),
            "opts": self.model._meta,
            "status": status.snapshot(),
        }
        return TemplateResponse(request, "admin/wecom/status.html", context)
