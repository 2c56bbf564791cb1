"""Work orders over REST: what a response shows and what a write or a step accepts.

Responses show related objects as small nested objects: the customer as
`{id, number, name}`, units as `{id, code, name}`, people as
`{id, username, name}`. Writes name them by their business keys: the
customer by number, units by code, people by username. The contact phone is
masked for users who neither own the customer nor handle the order.

Every rule beyond a field's own format is checked by tickets.services.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.choices import staff_for, units_for
from accounts.models import OrgUnit, User
from core.api.fields import StoredChoicesMixin
from core.api.serializers import NestedUnitSerializer, NestedUserSerializer, StrictFieldsMixin
from core.text import NOTE_LENGTH, TEXT_LENGTH
from customers.api.serializers import NestedCustomerSerializer
from customers.models import Contact, Customer
from tickets import permissions
from tickets.models import (
    FIVE_W_ONE_H,
    TICKET_EDITABLE_FIELDS,
    Category,
    Kind,
    Resolution,
    ReturnVisit,
    Source,
    Ticket,
    TicketEvent,
    Transfer,
    Urgency,
)
from tickets.selectors import changes_shown, contact_phone_shown_to, sees_full_phone

Action = TicketEvent.Action

# The API's name of each lifecycle step (the sub-resource that takes it).
API_ACTIONS: dict[str, str] = {
    Action.DISPATCHED: "dispatch",
    Action.REASSIGNED: "reassign",
    Action.SIGNED: "accept",
    Action.STARTED: "start",
    Action.RETURNED: "send-back",
    Action.TRANSFERRED: "transfer",
    Action.URGED: "urge",
    Action.RESOLVED: "resolve",
    Action.RETURN_VISIT: "return-visit",
    Action.REOPENED: "reopen",
    Action.ARCHIVED: "archive",
}

TICKET_FIELDS = (
    "id",
    "number",
    "version",
    "status",
    "source",
    "external_id",
    "kind",
    "category",
    "urgency",
    "customer",
    "contact_name",
    "contact_phone",
    "title",
    "org_unit",
    "assignee",
    "is_repeat",
    "urge_count",
    "escalation_level",
    "sign_due_at",
    "resolve_due_at",
    "overdue",
    "signed_at",
    "resolved_at",
    "archived_at",
    "created_at",
    "updated_at",
)
TICKET_DETAIL_FIELDS = (
    *TICKET_FIELDS,
    "description",
    *FIVE_W_ONE_H,
    "opened_by",
    "sign_warn_at",
    "resolve_warn_at",
    "resolution_kind",
    "resolution",
    "commitment",
    "commitment_due",
    "repeat_of",
    "related",
    "resolutions",
    "timeline",
    "transfers",
    "return_visits",
    "allowed_actions",
)


def ticket_queryset() -> QuerySet[Ticket]:
    """Orders with what a list row shows, in one query."""
    return Ticket.objects.select_related("customer", "customer__station", "org_unit", "assignee")


def ticket_detail_queryset() -> QuerySet[Ticket]:
    """Orders with everything the detail shows: a fixed number of queries, whatever the order holds."""
    return Ticket.objects.select_related(
        "customer", "customer__station", "org_unit", "assignee", "opened_by", "repeat_of"
    ).prefetch_related(
        Prefetch(
            "events",
            queryset=TicketEvent.objects.select_related("actor").order_by("created_at", "id"),
            to_attr="timeline",
        ),
        Prefetch(
            "transfers",
            queryset=Transfer.objects.select_related(
                "from_unit", "to_unit", "from_user", "to_user", "tracker"
            ).order_by("created_at", "id"),
            to_attr="transfer_list",
        ),
        Prefetch(
            "return_visits",
            queryset=ReturnVisit.objects.select_related("visited_by").order_by("due_at", "id"),
            to_attr="visit_list",
        ),
        Prefetch(
            "related", queryset=Ticket.objects.only("id", "number").order_by("-id"), to_attr="related_list"
        ),
        Prefetch(
            "resolutions",
            queryset=Resolution.objects.select_related("resolved_by").order_by("resolved_at", "id"),
            to_attr="resolution_list",
        ),
    )


# --- Responses -------------------------------------------------------------------------


class TicketEventSerializer(StoredChoicesMixin, serializers.ModelSerializer):
    actor = NestedUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TicketEvent
        fields = ("id", "action", "actor", "from_status", "to_status", "note", "changes", "created_at")
        read_only_fields = fields


class TransferSerializer(serializers.ModelSerializer):
    from_unit = NestedUnitSerializer(read_only=True)
    to_unit = NestedUnitSerializer(read_only=True)
    from_user = NestedUserSerializer(read_only=True, allow_null=True)
    to_user = NestedUserSerializer(read_only=True, allow_null=True)
    tracker = NestedUserSerializer(read_only=True)

    class Meta:
        model = Transfer
        fields = ("id", "from_unit", "from_user", "to_unit", "to_user", "reason", "tracker", "created_at")
        read_only_fields = fields


class ReturnVisitSerializer(StoredChoicesMixin, serializers.ModelSerializer):
    visited_by = NestedUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ReturnVisit
        fields = ("id", "due_at", "method", "result", "note", "visited_by", "visited_at")
        read_only_fields = fields


class ResolutionSerializer(StoredChoicesMixin, serializers.ModelSerializer):
    resolved_by = NestedUserSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Resolution
        fields = ("id", "kind", "text", "commitment", "commitment_due", "resolved_by", "resolved_at")
        read_only_fields = fields


class TicketSerializer(StoredChoicesMixin, serializers.ModelSerializer):
    customer = NestedCustomerSerializer(read_only=True)
    org_unit = NestedUnitSerializer(read_only=True)
    assignee = NestedUserSerializer(read_only=True, allow_null=True)
    contact_phone = serializers.SerializerMethodField(
        help_text="Masked (135****1234) unless you own the customer or handle the order"
    )
    overdue = serializers.SerializerMethodField(
        help_text="The running deadline (signing, then resolving) has passed"
    )

    class Meta:
        model = Ticket
        fields = TICKET_FIELDS
        read_only_fields = TICKET_FIELDS
        extra_kwargs = {"version": {"help_text": "Goes up with every change of the order; makes the ETag."}}

    def get_contact_phone(self, ticket: Ticket) -> str:
        return contact_phone_shown_to(self.context["request"].user, ticket)

    def get_overdue(self, ticket: Ticket) -> bool:
        return ticket.is_overdue(self.context.setdefault("now", timezone.now()))


class TicketDetailSerializer(TicketSerializer):
    opened_by = NestedUserSerializer(read_only=True, allow_null=True)
    repeat_of = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True, help_text="Number of the earlier complaint"
    )
    related = serializers.SerializerMethodField(help_text="Numbers of the linked orders, newest first")
    resolutions = ResolutionSerializer(
        many=True,
        read_only=True,
        source="resolution_list",
        help_text="Every 办结, oldest first: kept when the order is reopened and resolved again",
    )
    timeline = TicketEventSerializer(many=True, read_only=True, help_text="Every step, oldest first")
    transfers = TransferSerializer(many=True, read_only=True, source="transfer_list")
    return_visits = ReturnVisitSerializer(many=True, read_only=True, source="visit_list")
    allowed_actions = serializers.SerializerMethodField(
        help_text="The steps you may take now: the names of the action sub-resources"
    )

    class Meta(TicketSerializer.Meta):
        fields = TICKET_DETAIL_FIELDS
        read_only_fields = TICKET_DETAIL_FIELDS

    def get_related(self, ticket: Ticket) -> list[str]:
        return [other.number for other in ticket.related_list]

    def to_representation(self, ticket: Ticket) -> dict:
        data = super().to_representation(ticket)
        full_phone = sees_full_phone(self.context["request"].user, ticket)
        for event in data["timeline"]:
            event["changes"] = changes_shown(event["changes"], full_phone=full_phone)
        return data

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=list(API_ACTIONS.values())))
    )
    def get_allowed_actions(self, ticket: Ticket) -> list[str]:
        return [
            API_ACTIONS[action]
            for action in permissions.allowed_actions(self.context["request"].user, ticket)
        ]


# --- Writes --------------------------------------------------------------------------


# One answer for a username nobody has and one of somebody the caller may not
# name: a write is no way to learn who has an account.
USERNAME_UNUSABLE = _("用户名“{value}”不可用。")


def _username_field(help_text: str, *, required: bool = False) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.none(),
        required=required,
        allow_null=not required,
        help_text=help_text,
        error_messages={"does_not_exist": USERNAME_UNUSABLE},
    )


class TicketCreateSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    customer = serializers.CharField(
        max_length=13, help_text="Customer number; the customer must be one you may see"
    )
    contact = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Id of one of the customer's contacts; left out, the primary contact",
    )
    assignee = _username_field("Username of a person of the customer's station: dispatched to them at once")
    kind = serializers.ChoiceField(choices=Kind.choices)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.OTHER)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.PHONE)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.NORMAL)

    class Meta:
        model = Ticket
        fields = (
            "customer",
            "contact",
            "kind",
            "category",
            "source",
            "urgency",
            "external_id",
            "title",
            "description",
            *FIVE_W_ONE_H,
            "assignee",
        )
        # The pair (source, external_id) is the service's to check: a re-sent order is not an error.
        validators: list = []

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["assignee"].queryset = staff_for(request.user)
        return fields

    def validate_customer(self, value: str) -> Customer:
        user = self.context["request"].user
        customer = Customer.objects.visible_to(user).filter(number=value.strip()).first()
        if customer is None:
            raise serializers.ValidationError(_("未找到该户号的客户，或您无权查看该客户。"))
        return customer

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer: Customer = attrs["customer"]
        errors = {}
        contact_id = attrs.pop("contact", None)
        if contact_id is not None:
            contact = Contact.objects.filter(customer=customer, pk=contact_id).first()
            if contact is None:
                errors["contact"] = [_("联系人必须是该客户的联系人。")]
            attrs["contact"] = contact
        assignee = attrs.get("assignee")
        if assignee is not None and assignee.org_unit_id != customer.station_id:
            errors["assignee"] = [_("处理人必须是该客户所属供电所的人员。")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TicketUpdateSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """The order's text; fields left out stay as they are."""

    read_only_names = frozenset(TICKET_DETAIL_FIELDS) - frozenset(TICKET_EDITABLE_FIELDS)

    class Meta:
        model = Ticket
        fields = TICKET_EDITABLE_FIELDS
        extra_kwargs = {name: {"required": False} for name in TICKET_EDITABLE_FIELDS}


class TicketActionSerializer(StrictFieldsMixin, serializers.Serializer):
    """A step's input; the step's service decides whether it holds."""

    multiline_names = frozenset({"note", "reason", "resolution", "commitment"})


class NoteSerializer(TicketActionSerializer):
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_LENGTH, help_text="Optional remark"
    )


class SendBackSerializer(TicketActionSerializer):
    reason = serializers.CharField(
        max_length=NOTE_LENGTH, help_text="Why the order goes back to the dispatcher"
    )


class DispatchSerializer(TicketActionSerializer):
    org_unit = serializers.SlugRelatedField(
        slug_field="code", queryset=OrgUnit.objects.none(), help_text="Code of a unit of your subtree"
    )
    assignee = _username_field("Username of a person of that unit; left out, the unit signs for it")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_LENGTH)

    def get_fields(self):
        fields = super().get_fields()
        fields["org_unit"].queryset = units_for(self.context["request"].user)
        fields["assignee"].queryset = staff_for(self.context["request"].user)
        return fields


class ReassignSerializer(TicketActionSerializer):
    org_unit = serializers.SlugRelatedField(
        slug_field="code", queryset=OrgUnit.objects.none(), help_text="Code of a unit of your subtree"
    )
    assignee = _username_field("Username of a person of that unit; left out, the unit signs for it")
    reason = serializers.CharField(
        max_length=NOTE_LENGTH, help_text="Why the order changes hands; kept on the timeline"
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["org_unit"].queryset = units_for(self.context["request"].user)
        fields["assignee"].queryset = staff_for(self.context["request"].user)
        return fields


class TransferWriteSerializer(TicketActionSerializer):
    to_unit = serializers.SlugRelatedField(
        slug_field="code", queryset=OrgUnit.objects.all(), help_text="Code of the receiving unit"
    )
    to_user = _username_field("Username of a person of the receiving unit (optional)")
    tracker = _username_field(
        "Username of who follows the order up: yourself or a person of your subtree", required=True
    )
    reason = serializers.CharField(max_length=NOTE_LENGTH, help_text="Why the order is handed on")

    def get_fields(self):
        fields = super().get_fields()
        user = self.context["request"].user
        fields["to_user"].queryset = User.objects.filter(is_active=True)
        fields["tracker"].queryset = staff_for(user) | User.objects.filter(pk=user.pk)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        to_user = attrs.get("to_user")
        if to_user is not None and to_user.org_unit_id != attrs["to_unit"].pk:
            # Worded like an unknown username: anybody may be named, nobody is confirmed.
            message = str(USERNAME_UNUSABLE).format(value=to_user.username)
            raise serializers.ValidationError({"to_user": [message]})
        return attrs


class ResolveSerializer(TicketActionSerializer):
    resolution_kind = serializers.ChoiceField(
        choices=Ticket.ResolutionKind.choices, default=Ticket.ResolutionKind.DIRECT
    )
    resolution = serializers.CharField(max_length=TEXT_LENGTH, help_text="How it was solved, as it happened")
    commitment = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_LENGTH)
    commitment_due = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Required with a commitment"
    )


class ReturnVisitWriteSerializer(TicketActionSerializer):
    method = serializers.ChoiceField(choices=ReturnVisit.Method.choices)
    result = serializers.ChoiceField(
        choices=ReturnVisit.Result.choices, help_text="`dissatisfied` reopens the order"
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_LENGTH)
