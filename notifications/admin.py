from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.phones import mask_phone
from notifications.models import DigestEntry, Notification, SmsTemplate
from notifications.services import notifications_retry_now


def masked_address(notification: Notification) -> str:
    """Where the message goes, without the personal part: a masked mobile, a robot URL without its key."""
    address = notification.address
    if not address:
        return ""
    if notification.channel == Notification.Channel.SMS:
        return mask_phone(address)
    if notification.channel == Notification.Channel.WECOM:
        return address.split("?", 1)[0] + ("?…" if "?" in address else "")
    if notification.channel == Notification.Channel.EMAIL and "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:1]}***@{domain}"
    return address


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "subject",
        "channel",
        "status",
        "recipient",
        "recipient_label",
        "address_masked",
        "provider",
        "delivery_status",
        "delivered_at",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "created_at",
    )
    list_filter = ("status", "channel", "delivery_status", "provider")
    search_fields = ("dedupe_key", "subject", "provider_message_id")
    list_select_related = ("recipient",)
    autocomplete_fields = ("recipient",)
    date_hierarchy = "created_at"
    # The outbox grows large: no COUNT(*) over the whole table on every page.
    show_full_result_count = False
    # The raw number, address or robot key is never shown: see address_masked.
    exclude = ("address",)
    readonly_fields = (
        "address_masked",
        "dedupe_key",
        "status",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "claim_token",
        "send_started_at",
        "sent_at",
        "read_at",
        "last_error",
        "template_kind",
        "template_params",
        "quiet",
        "provider",
        "provider_message_id",
        "delivery_status",
        "delivered_at",
        "delivery_error",
        "delivery_reported_at",
        "created_at",
    )
    actions = ("retry_now",)

    def has_add_permission(self, request) -> bool:
        # Rows are written by the services that decide them, with their dedupe key.
        return False

    @admin.display(description=_("发送地址"))
    def address_masked(self, obj: Notification) -> str:
        return masked_address(obj)

    @admin.action(description=_("立即重新发送所选通知"))
    def retry_now(self, request, queryset):
        count = notifications_retry_now(notifications=queryset)
        text = ngettext(
            "已安排 %(count)d 条通知立即重新发送。", "已安排 %(count)d 条通知立即重新发送。", count
        )
        self.message_user(request, text % {"count": count}, messages.SUCCESS)
        withdrawn = queryset.filter(status=Notification.Status.WITHDRAWN).count()
        if withdrawn:
            text = ngettext(
                "%(count)d 条通知已撤回，不会重新发送。", "%(count)d 条通知已撤回，不会重新发送。", withdrawn
            )
            self.message_user(request, text % {"count": withdrawn}, messages.WARNING)


class ParamNamesField(forms.CharField):
    """The template's parameter names as one line, in order: "area, start, end"."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [
            name for name in text.replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if name
        ]


class SmsTemplateForm(forms.ModelForm):
    param_names = ParamNamesField(
        label=_("参数名称"),
        required=False,
        help_text=_("按模板中出现的顺序，用逗号分隔，例如 area, start, end"),
    )

    class Meta:
        model = SmsTemplate
        fields = ("provider", "kind", "template_code", "param_names", "sample_text", "active")


@admin.register(SmsTemplate)
class SmsTemplateAdmin(admin.ModelAdmin):
    form = SmsTemplateForm
    list_display = ("kind", "provider", "template_code", "param_list", "active", "updated_at")
    list_filter = ("provider", "kind", "active")
    search_fields = ("template_code", "sample_text")
    list_editable = ("active",)

    @admin.display(description=_("参数名称"))
    def param_list(self, obj: SmsTemplate) -> str:
        return ", ".join(obj.param_names or [])


@admin.register(DigestEntry)
class DigestEntryAdmin(admin.ModelAdmin):
    """Read only: lines are written by the scans and carried by the digest run."""

    list_display = ("subject", "recipient", "topic", "created_at", "notification")
    list_filter = ("topic",)
    list_select_related = ("recipient", "notification")
    search_fields = ("dedupe_key",)
    readonly_fields = ("recipient", "topic", "dedupe_key", "subject", "link", "notification", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
