"""The contact log and visits over REST: /api/v1/interactions/ and /api/v1/visits/.

Views declare; serializers shape; customers.interactions and customers.visits decide. Both lists
are scoped through the customer (plus what the user did themselves).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from core.api.idempotency import IdempotentCreateMixin
from core.api.pagination import KeysetPagination
from core.api.schema import IDEMPOTENCY_KEY, error_responses, list_schema
from core.api.scoping import ScopedQuerysetMixin
from core.api.serializers import NestedUserSerializer, StrictFieldsMixin
from customers.api.serializers import NestedCustomerSerializer
from customers.filtersets import InteractionFilterSet, VisitFilterSet
from customers.interactions.services import interaction_log, interaction_suggests_ticket
from customers.models import Customer, Interaction, Visit
from customers.visits.services import visit_schedule

# --- Serializers ------------------------------------------------------------------------


class VisibleCustomerField(serializers.SlugRelatedField):
    """A customer by number, among those the requesting user may see."""

    default_error_messages = {
        "does_not_exist": _("未找到户号为 {value} 的客户，或您无权查看。"),
        "invalid": _("户号格式不正确。"),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="number", **kwargs)

    def get_queryset(self):
        return Customer.objects.visible_to(self.context["request"].user)


INTERACTION_FIELDS = ("id", "customer", "staff", *Interaction.LOG_FIELDS, "suggests_ticket", "created_at")


class InteractionSerializer(serializers.ModelSerializer):
    customer = NestedCustomerSerializer(read_only=True)
    staff = NestedUserSerializer(read_only=True)
    suggests_ticket = serializers.SerializerMethodField(
        help_text="An angry sensitive customer: a work order is suggested."
    )

    class Meta:
        model = Interaction
        fields = INTERACTION_FIELDS
        read_only_fields = INTERACTION_FIELDS

    def get_suggests_ticket(self, obj: Interaction) -> bool:
        return interaction_suggests_ticket(obj)


class InteractionWriteSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    customer = VisibleCustomerField(help_text="Customer number")

    class Meta:
        model = Interaction
        fields = ("customer", *Interaction.LOG_FIELDS)
        extra_kwargs = {"summary": {"allow_blank": True, "required": False}}

    def create(self, validated_data: dict[str, Any]) -> Interaction:
        user = self.context["request"].user
        customer = validated_data.pop("customer")
        return interaction_log(customer=customer, staff=user, created_by=user, **validated_data)

    def to_representation(self, instance: Interaction) -> dict[str, Any]:
        return InteractionSerializer(instance, context=self.context).data


VISIT_FIELDS = (
    "id",
    "customer",
    "district",
    "staff",
    "purpose",
    "scheduled_at",
    "appointment_confirmed",
    "confirmed_at",
    *Visit.PREPARATION_FIELDS,
    "done_at",
    "outcome",
    "origin_key",
    "created_at",
)


class VisitSerializer(serializers.ModelSerializer):
    # A district's visit (the on-site service of a long outage) has no customer, only its district.
    customer = NestedCustomerSerializer(
        read_only=True, allow_null=True, help_text="null for a district's visit (see `district`)"
    )
    staff = NestedUserSerializer(read_only=True)

    class Meta:
        model = Visit
        fields = VISIT_FIELDS
        read_only_fields = VISIT_FIELDS


class VisitWriteSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    customer = VisibleCustomerField(help_text="Customer number")

    class Meta:
        model = Visit
        fields = ("customer", "purpose", "scheduled_at", *Visit.PREPARATION_FIELDS)

    def create(self, validated_data: dict[str, Any]) -> Visit:
        user = self.context["request"].user
        return visit_schedule(staff=user, created_by=user, **validated_data)

    def to_representation(self, instance: Visit) -> dict[str, Any]:
        return VisitSerializer(instance, context=self.context).data


# --- Views ------------------------------------------------------------------------------


@extend_schema_view(
    list=list_schema(
        "List contact-log entries",
        "Contacts with customers the user may see, newest first, keyset-paginated.",
        InteractionSerializer,
    ),
    create=extend_schema(
        summary="Log a contact with a customer",
        description="The contact time may not lie in the future; the summary is required.",
        request=InteractionWriteSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: InteractionSerializer, **error_responses(400, 401, 409, 422, 429)},
    ),
)
class InteractionViewSet(
    ScopedQuerysetMixin,
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The contact log (联系记录)."""

    queryset = Interaction.objects.filter(customer__deleted_at__isnull=True).select_related(
        "customer", "staff"
    )
    filterset_class = InteractionFilterSet
    pagination_class = KeysetPagination

    def get_serializer_class(self):
        return InteractionWriteSerializer if self.action == "create" else InteractionSerializer


@extend_schema_view(
    list=list_schema(
        "List visits",
        "Visits to customers the user may see, newest first, keyset-paginated.",
        VisitSerializer,
    ),
    retrieve=extend_schema(
        summary="Get a visit", responses={200: VisitSerializer, **error_responses(401, 404, 429)}
    ),
    create=extend_schema(
        summary="Plan a visit",
        description="The visit is the caller's; the planned time may not lie in the past.",
        request=VisitWriteSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: VisitSerializer, **error_responses(400, 401, 409, 422, 429)},
    ),
)
class VisitViewSet(
    ScopedQuerysetMixin,
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Visits (走访)."""

    queryset = Visit.objects.filter(customer__deleted_at__isnull=True).select_related("customer", "staff")
    filterset_class = VisitFilterSet
    pagination_class = KeysetPagination

    def get_serializer_class(self):
        return VisitWriteSerializer if self.action == "create" else VisitSerializer
