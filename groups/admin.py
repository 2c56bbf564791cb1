from django.contrib import admin

from groups.models import (
    ArchiveCursor,
    Broadcast,
    GroupMessage,
    HeldArchiveMessage,
    Membership,
    ReplyTemplate,
    ServiceGroup,
    UnlinkedMember,
    WeComChat,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    can_delete = False
    readonly_fields = ("contact", "user", "joined_at", "left_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ServiceGroup)
class ServiceGroupAdmin(admin.ModelAdmin):
    """Read-mostly: rules of a group's shape live in groups.services."""

    list_display = ("name", "kind", "owner", "org_unit", "district", "line", "created_at", "archived_at")
    list_filter = ("kind", "archived_at")
    search_fields = ("name", "owner__real_name", "external_id")
    list_select_related = ("owner", "org_unit", "district", "line")
    raw_id_fields = ("owner", "district", "line", "created_by")
    inlines = [MembershipInline]


@admin.register(GroupMessage)
class GroupMessageAdmin(admin.ModelAdmin):
    list_display = ("group", "sender_name", "sent_at", "is_inquiry", "response_due_at", "answered_at")
    list_filter = ("is_inquiry", "sender_kind")
    search_fields = ("text", "sender_name", "external_id", "ticket_number")
    list_select_related = ("group",)
    readonly_fields = [field.name for field in GroupMessage._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = ("title", "topic", "created_by", "scheduled_at", "published_at", "personal_notices")
    list_filter = ("topic",)
    search_fields = ("title", "body")
    readonly_fields = ("published_at", "personal_notices")
    raw_id_fields = ("created_by",)
    filter_horizontal = ("groups",)


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "org_unit", "created_by", "use_count")
    list_filter = ("category",)
    search_fields = ("title", "body")
    readonly_fields = ("use_count",)


@admin.register(HeldArchiveMessage)
class HeldArchiveMessageAdmin(admin.ModelAdmin):
    """Chat-archive messages waiting for their group or sender to be linked (then the
    next pull stores them): set the group's 外部群号, the contact's or user's WeCom id."""

    list_display = ("msgid", "roomid", "sender", "sent_at", "reason", "detail", "held_at")
    list_filter = ("reason",)
    search_fields = ("msgid", "roomid", "sender")
    readonly_fields = [field.name for field in HeldArchiveMessage._meta.fields]


@admin.register(WeComChat)
class WeComChatAdmin(admin.ModelAdmin):
    """WeCom's groups as the sync last saw them; filter 群主未绑定 for the groups kept aside
    until a user is given their owner's WeCom userid (the next reconcile takes them up)."""

    list_display = ("name", "chat_id", "owner_userid", "status", "member_count", "group", "synced_at")
    list_filter = ("status",)
    search_fields = ("name", "chat_id", "owner_userid")
    list_select_related = ("group",)
    readonly_fields = [field.name for field in WeComChat._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ArchiveCursor)
class ArchiveCursorAdmin(admin.ModelAdmin):
    list_display = ("source", "seq", "updated_at")
    readonly_fields = ("source", "updated_at")

    def has_add_permission(self, request):
        return False


@admin.register(UnlinkedMember)
class UnlinkedMemberAdmin(admin.ModelAdmin):
    list_display = ("name", "userid", "kind", "group", "joined_at", "left_at", "mobiles_checked_at")
    list_filter = ("kind",)
    search_fields = ("name", "userid", "group__name")
    list_select_related = ("group",)
    readonly_fields = [field.name for field in UnlinkedMember._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
