"""Outages (停电) over REST, for the dispatching system. Views declare; outages.services decides.

Status codes of the step sub-resources (POST /api/v1/outages/{id}/<step>/):
200 with the outage as it stands after the step; 400 bad input (field
messages); 404 the outage is not among those you may see; 409 the outage's
status does not allow the step (a conflict with the stored state, not bad
input); 412 a stale If-Match. A refused step changes nothing.
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.etag import ETagMixin, etag_in, versioned_etag
from core.api.idempotency import respond_idempotently
from core.api.pagination import KeysetPagination
from core.api.schema import create_schema, list_schema, retrieve_schema, step_schema_for
from core.api.scoping import ScopedQuerysetMixin
from core.api.steps import FreshDetailMixin, StepConflict, StepResponsesMixin, require_current
from outages import services
from outages.api import serializers as s
from outages.filtersets import OutageFilterSet
from outages.models import Outage

step_schema = step_schema_for(s.OutageDetailSerializer)

CREATE_DESCRIPTION = """Register an outage over lines and districts you may see (named by code).

Retries never make a duplicate:
- with an `Idempotency-Key` header, a retry returns the first response
  (`Idempotent-Replayed: true`);
- an outage carrying an `external_id` is registered once: sending the same
  `external_id` again returns the outage already registered with **200**
  (not 201) and changes nothing, whatever else the (valid) body says. If
  that outage is outside your scope the answer is 409.

A planned outage needs `planned_start` and `planned_end`; a fault or
temporary one starts at `actual_start` (default now). The outage is
registered, not yet announced: `publish` freezes who is affected and plans
the notices.
"""


@extend_schema_view(
    list=list_schema(
        "List outages", "Visible outages, newest first, keyset-paginated (follow `next`).", s.OutageSerializer
    ),
    retrieve=retrieve_schema(
        "Get an outage",
        "With who is affected (counts) and the notice plan with its delivery figures.",
        s.OutageDetailSerializer,
    ),
    create=create_schema(
        "Register an outage",
        CREATE_DESCRIPTION,
        request=s.OutageCreateSerializer,
        detail=s.OutageDetailSerializer,
        registered_before="The outage with this external_id was registered before; nothing changed.",
        errors=(400, 401, 403, 409, 422, 429),
    ),
)
class OutageViewSet(
    FreshDetailMixin,
    StepResponsesMixin,
    ScopedQuerysetMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Outages the user may see, by id."""

    queryset = s.outage_queryset()
    detail_serializer_class = s.OutageDetailSerializer
    filterset_class = OutageFilterSet
    pagination_class = KeysetPagination
    ordering_fields = ("id", "created_at")
    conflict_errors = (services.OutageConflict,)
    etag_actions = ETagMixin.etag_actions | frozenset({"publish", "start", "estimate", "restore", "cancel"})

    def get_serializer_class(self):
        if self.action == "list":
            return s.OutageSerializer
        if self.action == "create":
            return s.OutageCreateSerializer
        return s.OutageDetailSerializer

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            return super().get_queryset()
        # A step locks and reloads the row itself; it needs no related rows here.
        return Outage.objects.visible_to(self.request.user)

    def retrieve(self, request, *args, **kwargs):
        outage = self.get_object()
        etag = versioned_etag(outage.pk, s.outage_version(outage))
        if etag_in(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(self.get_serializer(outage).data)

    def detail_queryset(self):
        return s.outage_queryset()

    # --- Create ---------------------------------------------------------------------

    def create(self, request, *args, **kwargs):
        return respond_idempotently(request, self.register_outage)

    def register_outage(self) -> Response:
        serializer = s.OutageCreateSerializer(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        external_id = data.get("external_id")
        existing = self.registered_before(external_id)
        if existing is None:
            try:
                with transaction.atomic():
                    outage = services.outage_create(by=self.request.user, **data)
                return self.detail_response(outage, status.HTTP_201_CREATED)
            except (IntegrityError, ValidationError):
                # A request racing this one may have registered the same external_id first.
                existing = self.registered_before(external_id)
                if existing is None:
                    raise
        if not Outage.objects.visible_to(self.request.user).filter(pk=existing.pk).exists():
            raise StepConflict(_("该外部编号已有停电记录，且不在您的管辖范围内。"))
        return self.detail_response(existing)

    def registered_before(self, external_id: str | None) -> Outage | None:
        if not external_id:
            return None
        return Outage.objects.filter(external_id=external_id).first()

    # --- Steps ----------------------------------------------------------------------

    def step(self, service: Callable[..., Any], body_class: type[serializers.Serializer]) -> Response:
        """In one transaction: lock the row, check If-Match, validate the body, run the service
        with the body's values as keywords."""
        outage = self.get_object()
        body = body_class(data=self.request.data, context=self.get_serializer_context())
        with transaction.atomic():
            locked = Outage.objects.select_for_update().get(pk=outage.pk)
            require_current(
                self.request.headers.get("If-Match"), pk=locked.pk, version=s.outage_version(locked)
            )
            body.context["outage"] = locked
            body.is_valid(raise_exception=True)
            service(outage=locked, by=self.request.user, **body.validated_data)
        return self.detail_response(outage)

    @step_schema(
        "Publish the outage",
        "发布: freezes the affected customers and plans the notices (advance notices of a planned "
        "outage, the start notice). A fault outage is ongoing from then on. Once only.",
        s.OutageStepSerializer,
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self.step(services.outage_publish, s.OutageStepSerializer)

    @step_schema(
        "Record that the outage started",
        "停电开始: a published planned outage goes ongoing at `at` (default now).",
        s.OutageOccurredSerializer,
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self.step(services.outage_start, s.OutageOccurredSerializer)

    @step_schema(
        "Change the estimated restoration",
        "预计恢复时间: once published, a changed estimate sends the customers a delay notice; "
        "the same estimate again changes nothing. Not after restoration or cancellation.",
        s.OutageEstimateSerializer,
    )
    @action(detail=True, methods=["post"])
    def estimate(self, request, pk=None):
        return self.step(services.outage_update_estimate, s.OutageEstimateSerializer)

    @step_schema(
        "Record that power is back",
        "恢复送电: an ongoing outage is restored at `at` (default now, not before it started); "
        "the customers are told.",
        s.OutageRestoreSerializer,
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        return self.step(services.outage_restore, s.OutageRestoreSerializer)

    @step_schema(
        "Cancel the outage",
        "取消: an outage not yet started is cancelled; notices not yet sent are dropped, and customers "
        "already told get a cancellation notice.",
        s.OutageStepSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self.step(services.outage_cancel, s.OutageStepSerializer)
