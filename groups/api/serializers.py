"""Service groups over REST: what a response shows and what a write accepts.

Related objects appear as small nested objects (the owner and staff as
`{id, username, name}`, units, districts and lines as `{id, code, name}`);
writes name them by business key: the owner by `username`, a district or line
by `code`, a contact by id. Every rule beyond a field's own format is checked
by groups.services. Customers' phone numbers are not shown here.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from core.api.serializers import NestedUnitSerializer, NestedUserSerializer, StrictFieldsMixin
from core.text import MESSAGE_LENGTH
from customers.models import Contact, Customer, District, Line
from customers.selectors import districts_for, lines_for
from groups import selectors
from groups.models import GROUP_FIELDS, GroupKind, GroupMessage, Membership, ServiceGroup
from groups.services.groups import group_create, group_update
from groups.services.ingest import IngestItem

# --- Groups --------------------------------------------------------------------------------


class ServiceGroupHealthSerializer(serializers.Serializer):
    """Figures of `groups.selectors.with_health`, computed in SQL for the whole page."""

    inquiries_recent = serializers.IntegerField(help_text="Inquiries asked within GROUPS_HEALTH_DAYS")
    inquiries_decided = serializers.IntegerField(
        help_text="Of those, answered or past their deadline (one still within it counts neither way)"
    )
    answered_in_time = serializers.IntegerField(help_text="Of those, answered by their deadline")
    in_time_share = serializers.FloatField(
        allow_null=True, help_text="answered_in_time / inquiries_decided; null when none is decided"
    )
    median_response_seconds = serializers.FloatField(
        allow_null=True, help_text="Median time to the answer of the recent answered inquiries"
    )
    unanswered_now = serializers.IntegerField(help_text="Inquiries waiting for an answer now")
    overdue_now = serializers.IntegerField(help_text="Of those, past their deadline")
    owner_last_spoke_at = serializers.DateTimeField(
        allow_null=True, help_text="When the owner last spoke in the group; null if never"
    )
    silent_since = serializers.DateTimeField(help_text="owner_last_spoke_at, or the group's creation")
    is_zombie = serializers.BooleanField(
        help_text="An inquiry is overdue, or (not for 公共服务群) the owner has been silent for "
        "GROUPS_ZOMBIE_SILENT_DAYS"
    )
    zombie_reasons = serializers.SerializerMethodField(help_text="Why it is a zombie group, in words")

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_zombie_reasons(self, group: ServiceGroup) -> list[str]:
        now = self.context.get("health_now") or timezone.now()
        return selectors.zombie_reasons(group, now)


KIND_HELP = "vip (VIP客户群), district (台区群), line (线路群) or public (公共服务群)"


class GroupKindField(serializers.ChoiceField):
    """The group's kind (GroupKindEnum in the schema)."""

    def __init__(self, **kwargs):
        super().__init__(choices=GroupKind.choices, **kwargs)


class ServiceGroupSerializer(serializers.ModelSerializer):
    kind = GroupKindField(read_only=True)
    owner = NestedUserSerializer(read_only=True)
    org_unit = NestedUnitSerializer(read_only=True)
    district = NestedUnitSerializer(read_only=True, allow_null=True)
    line = NestedUnitSerializer(read_only=True, allow_null=True)
    health = ServiceGroupHealthSerializer(source="*", read_only=True)

    class Meta:
        model = ServiceGroup
        fields = (
            "id",
            *GROUP_FIELDS,
            "org_unit",
            "external_id",
            "created_at",
            "updated_at",
            "archived_at",
            "health",
        )
        read_only_fields = fields


class ServiceGroupWriteSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    kind = GroupKindField(help_text=KIND_HELP)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.none(),
        required=False,
        help_text="The responsible owner's username (default: you); a supervisor may name someone of "
        "their subtree",
    )
    district = serializers.SlugRelatedField(
        slug_field="code",
        queryset=District.objects.none(),
        required=False,
        allow_null=True,
        help_text="District code (台区群 only)",
    )
    line = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Line.objects.none(),
        required=False,
        allow_null=True,
        help_text="Line code (线路群 only)",
    )

    read_only_names = frozenset(
        {"id", "org_unit", "external_id", "created_at", "updated_at", "archived_at", "health"}
    )

    class Meta:
        model = ServiceGroup
        fields = (*GROUP_FIELDS, "external_id")
        extra_kwargs = {
            "external_id": {"help_text": "The WeChat group's own id; set on creation only"},
            # The services require the rules and check the rest; blanks reach them as errors by field.
            "rules": {"allow_blank": True},
            "name": {"allow_blank": True},
        }

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        user = request.user
        current = self.instance if isinstance(self.instance, ServiceGroup) else None
        owners = selectors.owners_for(user)
        districts = districts_for(user)
        lines = lines_for(user)
        if current is not None:
            owners = owners | User.objects.filter(pk=current.owner_id)
            districts = districts | District.objects.filter(pk=current.district_id)
            lines = lines | Line.objects.filter(pk=current.line_id)
            fields["name"].required = False
            fields["kind"].required = False
            fields["rules"].required = False
            if "external_id" in fields:
                fields["external_id"].read_only = True
        fields["owner"].queryset = owners
        fields["district"].queryset = districts
        fields["line"].queryset = lines
        return fields

    def create(self, validated_data: dict[str, Any]) -> ServiceGroup:
        return group_create(by=self.context["request"].user, **validated_data)

    def update(self, instance: ServiceGroup, validated_data: dict[str, Any]) -> ServiceGroup:
        return group_update(group=instance, by=self.context["request"].user, **validated_data)

    def to_representation(self, instance: ServiceGroup) -> dict[str, Any]:
        view = self.context["view"]
        group = view.get_queryset().get(pk=instance.pk)
        return ServiceGroupSerializer(group, context=self.context).data


class ServiceGroupChangeSerializer(ServiceGroupWriteSerializer):
    """What a change of a group takes: any writable field; the WeChat id stays as created."""

    class Meta(ServiceGroupWriteSerializer.Meta):
        fields = GROUP_FIELDS

    def get_fields(self):
        fields = super().get_fields()
        # A change keeps what it leaves out, even with PUT.
        for name in ("name", "kind", "rules"):
            fields[name].required = False
        return fields


# --- Members -------------------------------------------------------------------------------


class GroupCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class GroupContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    relation = serializers.CharField(read_only=True)
    customer = GroupCustomerSerializer(read_only=True)


class GroupMemberSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField(help_text="`contact` (a customer's contact) or `staff`")
    contact = GroupContactSerializer(read_only=True, allow_null=True)
    user = NestedUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = ("id", "kind", "contact", "user", "joined_at", "left_at")
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_kind(self, membership: Membership) -> str:
        return "staff" if membership.user_id else "contact"


class GroupMemberAddSerializer(StrictFieldsMixin, serializers.Serializer):
    one_of_required = ("contact", "user")

    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.none(),
        required=False,
        help_text="A contact id of a customer you may see",
    )
    user = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="A staff member's username (your own to join the group yourself)",
    )

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            visible = Customer.objects.visible_to(request.user)
            fields["contact"].queryset = Contact.objects.filter(customer__in=visible).select_related(
                "customer"
            )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("contact" in attrs) == ("user" in attrs):
            raise serializers.ValidationError(_("群成员须是客户联系人或工作人员之一。"))
        return attrs


# --- Messages ------------------------------------------------------------------------------


class GroupMessageSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="sender_contact_id", read_only=True, allow_null=True)
    customer = GroupCustomerSerializer(read_only=True, allow_null=True)
    user = NestedUserSerializer(source="sender_user", read_only=True, allow_null=True)
    answer = serializers.IntegerField(
        source="answer_id", read_only=True, allow_null=True, help_text="The staff message that answered"
    )

    class Meta:
        model = GroupMessage
        fields = (
            "id",
            "external_id",
            "sender_kind",
            "sender_name",
            "contact",
            "customer",
            "user",
            "text",
            "sent_at",
            "is_inquiry",
            "response_due_at",
            "answer",
            "answered_at",
            "response_seconds",
            "ticket_number",
            "created_at",
        )
        read_only_fields = fields


class GroupMessageIngestItemSerializer(StrictFieldsMixin, serializers.Serializer):
    one_of_required = ("contact", "mobile", "user")
    multiline_names = frozenset({"text"})

    external_id = serializers.CharField(
        max_length=64, help_text="The message's original id (WeCom msgid); unique within the group"
    )
    contact = serializers.IntegerField(required=False, min_value=1, help_text="Sender: a contact id")
    mobile = serializers.RegexField(
        r"^1\d{10}$",
        required=False,
        help_text="Sender: the mobile of a contact in the group",
        error_messages={"invalid": _("请输入11位手机号码，例如 13595561234。")},
    )
    user = serializers.CharField(
        required=False, max_length=150, help_text="Sender: a staff member's username"
    )
    text = serializers.CharField(trim_whitespace=True, max_length=MESSAGE_LENGTH)
    sent_at = serializers.DateTimeField()
    is_inquiry = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A customer's inquiry (咨询/诉求); left out or null: guessed from the text",
    )
    reply_to = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Staff only: the external_id of the inquiry answered (wins over `customer`)",
    )
    customer = serializers.CharField(
        required=False,
        max_length=20,
        help_text="Staff only: a customer number; the message answers every earlier unanswered "
        "inquiry of that customer",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        senders = [name for name in ("contact", "mobile", "user") if name in attrs]
        if len(senders) != 1:
            raise serializers.ValidationError(_("群成员须是客户联系人或工作人员之一。"))
        return attrs

    def to_item(self, index: int) -> IngestItem:
        data = self.validated_data
        return IngestItem(
            index=index,
            external_id=data["external_id"],
            text=data["text"],
            sent_at=data["sent_at"],
            contact_id=data.get("contact"),
            mobile=data.get("mobile", ""),
            username=data.get("user", ""),
            is_inquiry=data.get("is_inquiry"),
            reply_to=data.get("reply_to", ""),
            customer_number=data.get("customer", ""),
        )


class GroupMessageIngestOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request array, from 0")
    external_id = serializers.CharField(allow_null=True)
    status = serializers.CharField(help_text="`created`, `duplicate` or `rejected`")
    id = serializers.IntegerField(allow_null=True, help_text="The stored message's id, when created")
    answered = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="For a created staff message: ids of the inquiries it answered",
    )
    errors = serializers.DictField(
        required=False, help_text="For rejected: field errors, shaped like a 400 body"
    )


class GroupMessageIngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = GroupMessageIngestOutcomeSerializer(many=True)
