"""Outages over REST: what a response shows and what a create or a step accepts.

Responses show kind and status as `{code, label}`, lines, districts and the
registering unit as `{id, code, name}` and the registering person as
`{id, username, name}`. Writes name lines and districts by their codes (an
outside system knows codes, not ids); only lines and districts the user may
see are accepted. Names the API does not take are rejected.

Every rule beyond a field's own format is checked by outages.services.
"""

import hashlib
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializers import NestedUnitSerializer, NestedUserSerializer, StrictFieldsMixin
from customers.models import District, Line
from outages import selectors, services
from outages.models import Outage, OutageKind, OutageNotice, OutageStatus

# The outage's timeline, in the order a response shows it.
TIMELINE_FIELDS = (
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "estimated_restoration",
    "published_at",
)
# What a step or a correction may change; the version is read from these.
STATE_FIELDS = ("kind", "reason", "status", *TIMELINE_FIELDS, "external_id", "org_unit_id")

OUTAGE_FIELDS = (
    "id",
    "version",
    "external_id",
    "kind",
    "status",
    "reason",
    "org_unit",
    "created_by",
    *TIMELINE_FIELDS,
    "created_at",
    "lines",
    "districts",
)
OUTAGE_DETAIL_FIELDS = (*OUTAGE_FIELDS, "impact", "notices")


def outage_version(outage: Outage) -> int:
    """A number that changes whenever the outage's state does (the model keeps no counter).

    Lines and districts are fixed at creation, so they take no part.
    """

    def text(value: Any) -> str:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        return "" if value is None else str(value)

    state = "\x1f".join(text(getattr(outage, name)) for name in STATE_FIELDS)
    return int(hashlib.sha256(state.encode()).hexdigest()[:12], 16)


def outage_queryset() -> QuerySet[Outage]:
    """Outages with what a list row shows: three queries per page."""
    return Outage.objects.select_related("org_unit", "created_by").prefetch_related(
        Prefetch("lines", queryset=Line.objects.order_by("code")),
        Prefetch("districts", queryset=District.objects.order_by("code")),
    )


# --- Responses -------------------------------------------------------------------------


class OutageKindSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=OutageKind.choices, source="kind", read_only=True)
    label = serializers.CharField(source="get_kind_display", read_only=True)


class OutageStatusSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=OutageStatus.choices, source="status", read_only=True)
    label = serializers.CharField(source="get_status_display", read_only=True)


class OutageImpactSerializer(serializers.Serializer):
    customers = serializers.IntegerField(read_only=True, help_text="Customers affected")
    sensitive = serializers.IntegerField(
        read_only=True, help_text="Of those, sensitive or VIP customers (told one by one)"
    )
    frozen = serializers.BooleanField(
        read_only=True,
        help_text="True once published: the figures are the customers recorded then; "
        "before, they are counted live from the archive",
    )


class OutageNoticeSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="kind_label", read_only=True)
    queued = serializers.IntegerField(read_only=True, help_text="Personal notices waiting to be sent")
    sent = serializers.IntegerField(read_only=True, help_text="Personal notices delivered")
    failed = serializers.IntegerField(read_only=True, help_text="Personal notices failed or skipped")
    withdrawn = serializers.IntegerField(
        read_only=True, help_text="Personal notices withdrawn at restoration or cancellation, never sent"
    )

    class Meta:
        model = OutageNotice
        fields = (
            "id",
            "kind",
            "label",
            "due_at",
            "fanned_out_at",
            "cancelled_at",
            "personal_count",
            "broadcast_count",
            "queued",
            "sent",
            "failed",
            "withdrawn",
        )
        read_only_fields = fields
        extra_kwargs = {
            "kind": {"help_text": "advance-<n>d, start, delay-<n>, restored or cancelled"},
            "broadcast_count": {"help_text": "Service groups the notice was broadcast to"},
        }


class OutageSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField(
        help_text="Changes with every change of the outage (an opaque number, not a counter); makes the ETag."
    )
    kind = OutageKindSerializer(source="*", read_only=True)
    status = OutageStatusSerializer(source="*", read_only=True)
    org_unit = NestedUnitSerializer(read_only=True, help_text="The unit that registered the outage")
    created_by = NestedUserSerializer(read_only=True, allow_null=True)
    lines = NestedUnitSerializer(many=True, read_only=True)
    districts = NestedUnitSerializer(many=True, read_only=True)

    class Meta:
        model = Outage
        fields = OUTAGE_FIELDS
        read_only_fields = OUTAGE_FIELDS

    def get_version(self, outage: Outage) -> int:
        return outage_version(outage)


class OutageDetailSerializer(OutageSerializer):
    impact = serializers.SerializerMethodField()
    notices = serializers.SerializerMethodField(
        help_text="The notice plan, by due time, each with its delivery figures"
    )

    class Meta(OutageSerializer.Meta):
        fields = OUTAGE_DETAIL_FIELDS
        read_only_fields = OUTAGE_DETAIL_FIELDS

    @extend_schema_field(OutageImpactSerializer)
    def get_impact(self, outage: Outage) -> dict[str, Any]:
        impact = services.outage_impact(outage)
        return {
            "customers": impact.customers,
            "sensitive": impact.sensitive,
            "frozen": outage.published_at is not None,
        }

    @extend_schema_field(OutageNoticeSerializer(many=True))
    def get_notices(self, outage: Outage) -> list[dict[str, Any]]:
        return OutageNoticeSerializer(selectors.notice_figures(outage), many=True).data


# --- Writes --------------------------------------------------------------------------


def _codes_field(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, default=list, help_text=help_text
    )


def _visible_by_code(queryset: QuerySet, codes: list[str], unknown_message) -> list[Model]:
    """The rows named by `codes`, in that order; unknown codes and codes out of scope are one error."""
    codes = list(dict.fromkeys(code.strip() for code in codes))
    found = {row.code: row for row in queryset.filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise serializers.ValidationError(unknown_message % {"codes": "、".join(missing)})
    return [found[code] for code in codes]


class OutageCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=OutageKind.choices)
    reason = serializers.CharField(max_length=255)
    lines = _codes_field("Codes of the lines out of power (every district on a line is included)")
    districts = _codes_field("Codes of the districts out of power; at least one line or district")
    planned_start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required for a planned outage"
    )
    planned_end = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required for a planned outage"
    )
    actual_start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Fault and temporary outages: when it began (default now)"
    )
    estimated_restoration = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Left out, the planned end"
    )
    external_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The dispatching system's own id; sending it again returns the outage already registered",
    )

    def validate_lines(self, codes: list[str]) -> list[Line]:
        user = self.context["request"].user
        return _visible_by_code(
            Line.objects.visible_to(user), codes, _("未知或无权使用的线路编码：%(codes)s")
        )

    def validate_districts(self, codes: list[str]) -> list[District]:
        user = self.context["request"].user
        return _visible_by_code(
            District.objects.visible_to(user), codes, _("未知或无权使用的台区编码：%(codes)s")
        )

    def validate_external_id(self, value: str | None) -> str | None:
        return (value or "").strip() or None


class OutageStepSerializer(StrictFieldsMixin, serializers.Serializer):
    """A step's input, validated with the outage locked (`context["outage"]`);
    the step's service decides whether the step holds."""


class OutageOccurredSerializer(OutageStepSerializer):
    at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When it happened; left out, now"
    )

    def validate_at(self, value):
        if value is not None and value > timezone.now():
            raise serializers.ValidationError(_("时间不能晚于现在。"))
        return value


class OutageRestoreSerializer(OutageOccurredSerializer):
    def validate_at(self, value):
        value = super().validate_at(value)
        began = self.context["outage"].actual_start
        if value is not None and began is not None and value < began:
            raise serializers.ValidationError(_("恢复送电时间不能早于停电开始时间。"))
        return value


class OutageEstimateSerializer(OutageStepSerializer):
    estimated_restoration = serializers.DateTimeField(help_text="The new estimate of when power is back")
