"""The customer archive over REST: what a response shows and what a write accepts.

Responses show related objects as small nested objects: station, district and
line as `{id, code, name}`, the account manager as `{id, username, name}`.
Writes name them by their business keys: station, district and line by
`code`, the manager by `username` (null clears district, line or manager).
Only stations, districts, lines and managers of the user's own subtree are
accepted, besides the values the archive already has.

Contacts are nested both ways. In a write, `contacts` (when present) is the
complete new set: an item with `id` changes that contact (fields it leaves
out stay as they are), an item without adds one, a contact left out is
deleted. Phone numbers are masked unless the user sees them in full
(customers.phone_access: the customer's manager, an integration account).

A write naming a field the API does not take is rejected (400), as is one
naming a read-only field. Every rule beyond a field's own format is checked
by customers.services.
"""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.choices import account_managers_for, stations_for
from accounts.models import OrgUnit, User
from core.api.serializers import NestedUnitSerializer, NestedUserSerializer, StrictFieldsMixin
from core.phones import mask_phone
from customers import services
from customers.models import ARCHIVE_FIELDS, Contact, Customer, District, Line, customer_number_validator
from customers.phone_access import sees_full_phones

CONTACT_FIELDS = ("id", *Contact.EDITABLE_FIELDS)
CUSTOMER_WRITE_FIELDS = ARCHIVE_FIELDS
CUSTOMER_READ_ONLY_FIELDS = ("id", "verified_at", "completeness", "created_at", "updated_at")
CUSTOMER_FIELDS = (
    "id",
    *CUSTOMER_WRITE_FIELDS,
    "verified_at",
    "completeness",
    "created_at",
    "updated_at",
    "version",
    "contacts",
)


def customer_queryset() -> QuerySet[Customer]:
    """Live archives with what a response shows: units, manager and contacts (two queries per page)."""
    return Customer.objects.select_related("station", "district", "line", "manager").prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.order_by("-is_primary", "id"))
    )


def mask_contact_phones(contacts: list[dict[str, Any]]) -> None:
    for contact in contacts:
        for field in Contact.PHONE_FIELDS:
            contact[field] = mask_phone(contact[field])


# --- Responses -------------------------------------------------------------------------


class NestedCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


@extend_schema_field({"anyOf": [{"type": "string", "format": "email"}, {"type": "string", "enum": [""]}]})
class BlankableEmailField(serializers.EmailField):
    """An e-mail address, or "" when none is recorded: the schema says both."""


class ContactSerializer(serializers.ModelSerializer):
    email = BlankableEmailField(read_only=True, label=Contact._meta.get_field("email").verbose_name)

    class Meta:
        model = Contact
        fields = CONTACT_FIELDS
        read_only_fields = CONTACT_FIELDS


class CustomerSerializer(serializers.ModelSerializer):
    # Declared so that the schema keeps the blank choice a read-only model field would drop.
    voltage = serializers.ChoiceField(
        choices=Customer.Voltage.choices,
        allow_blank=True,
        read_only=True,
        label=Customer._meta.get_field("voltage").verbose_name,
    )
    station = NestedUnitSerializer(read_only=True)
    district = NestedUnitSerializer(read_only=True, allow_null=True)
    line = NestedUnitSerializer(read_only=True, allow_null=True)
    manager = NestedUserSerializer(read_only=True, allow_null=True)
    contacts = ContactSerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS
        read_only_fields = CUSTOMER_FIELDS
        extra_kwargs = {
            "version": {
                "help_text": "Goes up with every change of the archive or its contacts; makes the ETag."
            }
        }

    def to_representation(self, instance: Customer) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not sees_full_phones(self.context["request"].user, manager_id=instance.manager_id):
            mask_contact_phones(data["contacts"])
        return data


# --- Writes --------------------------------------------------------------------------


class ContactWriteSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.IntegerField(
        required=False,
        help_text="An existing contact's id changes that contact; without it a contact is added.",
    )

    class Meta:
        model = Contact
        fields = CONTACT_FIELDS
        # A change of an existing contact may leave the name out; the services require it on new ones.
        extra_kwargs = {"name": {"required": False}}


def _with_current(queryset: QuerySet, current_pk: int | None) -> QuerySet:
    """Keep the value the archive already has acceptable even if it lies outside the user's choices."""
    if current_pk is None:
        return queryset
    return queryset | queryset.model._default_manager.filter(pk=current_pk)


class CustomerWriteSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    station = serializers.SlugRelatedField(
        slug_field="code", queryset=OrgUnit.objects.none(), help_text="Station code"
    )
    district = serializers.SlugRelatedField(
        slug_field="code",
        queryset=District.objects.none(),
        required=False,
        allow_null=True,
        help_text="District code; without a line, the district's line is taken.",
    )
    line = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Line.objects.none(),
        required=False,
        allow_null=True,
        help_text="Line code",
    )
    manager = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.none(),
        required=False,
        allow_null=True,
        help_text="The account manager's username",
        # Unknown and out-of-reach usernames answer alike (DRF's message would too, but say so).
        error_messages={"does_not_exist": _("用户名“{value}”不可用。")},
    )
    contacts = ContactWriteSerializer(
        many=True,
        required=False,
        help_text="When given, the complete new set of contacts; when left out, contacts stay as they are.",
    )
    version = serializers.IntegerField(
        min_value=1,
        required=False,
        write_only=True,
        help_text=(
            "Optional: the version the client last read. If the stored version differs, nothing is "
            "changed (412 for a single write, a conflict outcome for a bulk item)."
        ),
    )

    read_only_names = frozenset(CUSTOMER_READ_ONLY_FIELDS)

    class Meta:
        model = Customer
        fields = (*CUSTOMER_WRITE_FIELDS, "contacts", "version")
        # Uniqueness is the service's to check: it also knows deleted archives and concurrent creates.
        extra_kwargs = {"number": {"validators": [customer_number_validator]}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        user = request.user
        current = self.instance if isinstance(self.instance, Customer) else None
        stations = stations_for(user)
        fields["station"].queryset = _with_current(stations, current and current.station_id)
        fields["district"].queryset = _with_current(
            District.objects.filter(station__in=stations), current and current.district_id
        )
        fields["line"].queryset = _with_current(
            Line.objects.filter(station__in=stations), current and current.line_id
        )
        fields["manager"].queryset = _with_current(account_managers_for(user), current and current.manager_id)
        if current is not None:
            fields["number"].required = False
        return fields

    def validate_number(self, value: str) -> str:
        if self.instance is not None and value != self.instance.number:
            raise serializers.ValidationError(_("户号建档后不可修改。"))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and "version" in attrs:
            raise serializers.ValidationError({"version": [_("新建客户档案时不能指定版本。")]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Customer:
        contacts = validated_data.pop("contacts", None)
        customer = services.customer_create_with_contacts(
            created_by=self.context["request"].user, contacts=contacts, **validated_data
        )
        return customer_queryset().get(pk=customer.pk)

    def update(self, instance: Customer, validated_data: dict[str, Any]) -> Customer:
        expected = _expected_versions(
            validated_data.pop("if_match", None), validated_data.pop("version", None)
        )
        contacts = validated_data.pop("contacts", None)
        validated_data.pop("number", None)
        services.customer_update_with_contacts(
            customer=instance,
            updated_by=self.context["request"].user,
            expected_versions=expected,
            contacts=contacts,
            **validated_data,
        )
        return customer_queryset().get(pk=instance.pk)

    def to_representation(self, instance: Customer) -> dict[str, Any]:
        return CustomerSerializer(instance, context=self.context).data


def _expected_versions(if_match: frozenset[int] | None, version: int | None) -> frozenset[int] | None:
    """Both preconditions must hold when a client sends an If-Match header and a `version`."""
    if version is None:
        return if_match
    if if_match is None:
        return frozenset({version})
    return if_match & {version}


# --- Sync and bulk (documentation of their bodies) -----------------------------------------


# `deleted` tells a sync row's two shapes apart, so that a row matches exactly one of them.
@extend_schema_field({"const": False})
class LiveFlagField(serializers.BooleanField):
    pass


@extend_schema_field({"const": True})
class DeletedFlagField(serializers.BooleanField):
    pass


class SyncCustomerSerializer(CustomerSerializer):
    deleted = LiveFlagField(read_only=True, default=False, help_text="Always false")

    class Meta(CustomerSerializer.Meta):
        fields = (*CUSTOMER_FIELDS, "deleted")
        read_only_fields = fields


class SyncTombstoneSerializer(serializers.Serializer):
    number = serializers.CharField(read_only=True, help_text="Number of the deleted archive")
    deleted = DeletedFlagField(read_only=True, help_text="Always true")
    reason = serializers.ChoiceField(
        choices=["out_of_scope"],
        # Not read_only: the schema would list it as required, and tombstones of deletions have none.
        required=False,
        help_text="Present when the archive still exists but left what you may see (moved to "
        "another station or manager): drop your copy as for a deletion",
    )


class BulkOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request array, from 0")
    number = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "invalid", "conflict"])
    version = serializers.IntegerField(
        allow_null=True, help_text="Version after the write; on failure the stored version, or null"
    )
    errors = serializers.DictField(
        required=False, help_text="For invalid and conflict: field errors, shaped like a 400 body"
    )


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkOutcomeSerializer(many=True)
