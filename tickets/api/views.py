"""Work orders (工单) over REST. Views declare; serializers shape; tickets.services decides.

Status codes of the step sub-resources (POST /api/v1/tickets/{number}/<step>/):
200 with the order as it stands after the step; 400 bad input (field
messages); 403 the step is not for your role; 404 the order is not among
those you may see; 409 the order's status does not allow the step (a
conflict with the stored state, not bad input: the same request may succeed
once the order moves on); 412 a stale If-Match. A refused step changes
nothing.
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.etag import ETagMixin
from core.api.idempotency import respond_idempotently
from core.api.pagination import KeysetPagination
from core.api.schema import create_schema, list_schema, retrieve_schema, step_schema_for
from core.api.scoping import ScopedQuerysetMixin
from core.api.steps import FreshDetailMixin, StepConflict, StepResponsesMixin
from tickets import permissions, selectors, services
from tickets.api import serializers as s
from tickets.api.steps import take_step
from tickets.filtersets import TicketFilterSet
from tickets.models import Ticket, TicketEvent

Action = TicketEvent.Action

step_schema = step_schema_for(s.TicketDetailSerializer)

CREATE_DESCRIPTION = """Open a work order for a customer you may see (named by number).

Retries never make a duplicate:
- with an `Idempotency-Key` header, a retry returns the first response
  (`Idempotent-Replayed: true`);
- an order from an outside system carries its `source` and `external_id`;
  sending the same pair again returns the order already opened with **200**
  (not 201) and changes nothing, whatever else the body says. If that order
  is outside your scope the answer is 409.

With an `assignee` the order is dispatched to them at once.
"""


@extend_schema_view(
    list=list_schema(
        "List work orders",
        "Visible orders, newest first, keyset-paginated (follow `next`).",
        s.TicketSerializer,
    ),
    retrieve=retrieve_schema(
        "Get a work order by number",
        "With its timeline, transfers, return visits, related orders and the steps you may take.",
        s.TicketDetailSerializer,
    ),
    create=create_schema(
        "Open a work order",
        CREATE_DESCRIPTION,
        request=s.TicketCreateSerializer,
        detail=s.TicketDetailSerializer,
        registered_before="The order with this source and external_id was opened before; nothing changed.",
        errors=(400, 401, 409, 422, 429),
    ),
    partial_update=step_schema(
        "Correct a work order's text",
        "Title, description, contact and 5W1H; fields left out stay as they are. The handler or a "
        "supervisor of the order's unit may edit (403 otherwise); an archived order is fixed (409). "
        "The timeline records each changed field as `old → new`.",
        s.TicketUpdateSerializer,
    ),
)
class TicketViewSet(
    FreshDetailMixin,
    StepResponsesMixin,
    ScopedQuerysetMixin,
    ETagMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Work orders the user may see, looked up by order number."""

    queryset = s.ticket_detail_queryset()
    detail_serializer_class = s.TicketDetailSerializer
    lookup_field = "number"
    filterset_class = TicketFilterSet
    pagination_class = KeysetPagination
    ordering_fields = ("id", "number", "created_at", "updated_at")
    conflict_errors = (permissions.TransitionError,)
    etag_actions = ETagMixin.etag_actions | frozenset(
        {
            "accept",
            "start",
            "send_back",
            "transfer",
            "urge",
            "resolve",
            "return_visit",
            "reopen",
            "archive",
            "dispatch_order",
            "reassign",
        }
    )

    def get_queryset(self):
        if self.action == "list":
            return s.ticket_queryset().visible_to(self.request.user)
        if self.action == "retrieve":
            return super().get_queryset()
        return Ticket.objects.select_related("org_unit", "customer").visible_to(self.request.user)

    def rows_by_unit(self, orders, order, count):
        # A supervisor's orders are read unit by unit, as the list page reads them. The ids
        # carry the scope and every filter: only those rows are joined to what a response shows.
        # A text search's few matches are listed by id (tickets.search): read whole.
        filterset = getattr(self, "filterset", None)
        if filterset is not None and not filterset.by_unit:
            return None
        ids = selectors.ticket_first_ids(user=self.request.user, orders=orders, order=order, count=count)
        return None if ids is None else s.ticket_queryset().filter(pk__in=ids)

    def get_serializer_class(self):
        if self.action == "list":
            return s.TicketSerializer
        if self.action == "create":
            return s.TicketCreateSerializer
        if self.action == "partial_update":
            return s.TicketUpdateSerializer
        return s.TicketDetailSerializer

    def detail_queryset(self):
        return s.ticket_detail_queryset()

    def create(self, request, *args, **kwargs):
        return respond_idempotently(request, self.open_ticket)

    def open_ticket(self) -> Response:
        serializer = s.TicketCreateSerializer(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            ticket, created = services.ticket_create(opened_by=self.request.user, **serializer.validated_data)
            if not created and not Ticket.objects.visible_to(self.request.user).filter(pk=ticket.pk).exists():
                raise StepConflict(_("该来源的外部单号已有工单，且不在您的管辖范围内。"))
        return self.detail_response(ticket, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def step(self, action_name: str, run, body_class=None) -> Response:
        ticket = self.get_object()
        body = (
            body_class(data=self.request.data, context=self.get_serializer_context()) if body_class else None
        )
        take_step(
            ticket=ticket,
            user=self.request.user,
            action=action_name,
            if_match=self.request.headers.get("If-Match"),
            body=body,
            run=run,
        )
        return self.detail_response(ticket)

    def partial_update(self, request, number=None):
        user = request.user
        return self.step(
            Action.EDITED,
            lambda t, d: services.ticket_update(ticket=t, by=user, **d),
            s.TicketUpdateSerializer,
        )

    @step_schema("Sign for (accept) the order", "签收: the assignee (or a manager of the unit) accepts it.")
    @action(detail=True, methods=["post"])
    def accept(self, request, number=None):
        user = request.user
        return self.step(Action.SIGNED, lambda t, d: services.ticket_sign(ticket=t, by=user))

    @step_schema("Start work on the order", "开始处理: the assignee starts on a signed order.")
    @action(detail=True, methods=["post"])
    def start(self, request, number=None):
        user = request.user
        return self.step(Action.STARTED, lambda t, d: services.ticket_start(ticket=t, by=user))

    @step_schema(
        "Send the order back", "退回: the assignee returns it to the dispatcher.", s.SendBackSerializer
    )
    @action(detail=True, methods=["post"], url_path="send-back")
    def send_back(self, request, number=None):
        user = request.user
        return self.step(
            Action.RETURNED,
            lambda t, d: services.ticket_send_back(ticket=t, by=user, **d),
            s.SendBackSerializer,
        )

    @step_schema(
        "Transfer the order to another unit",
        "转办: hands it on with a named tracker; the receiving side must sign again.",
        s.TransferWriteSerializer,
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request, number=None):
        user = request.user
        return self.step(
            Action.TRANSFERRED,
            lambda t, d: services.ticket_transfer(ticket=t, by=user, **d),
            s.TransferWriteSerializer,
        )

    @step_schema(
        "Urge the order",
        "催办: a supervisor of the order's unit, or the tracker of a transfer, pushes an open order.",
        s.NoteSerializer,
    )
    @action(detail=True, methods=["post"])
    def urge(self, request, number=None):
        user = request.user
        return self.step(
            Action.URGED, lambda t, d: services.ticket_urge(ticket=t, by=user, **d), s.NoteSerializer
        )

    @step_schema(
        "Resolve the order",
        "办结: records how it was solved and schedules the return visit.",
        s.ResolveSerializer,
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, number=None):
        user = request.user
        return self.step(
            Action.RESOLVED, lambda t, d: services.ticket_resolve(ticket=t, by=user, **d), s.ResolveSerializer
        )

    @step_schema(
        "Record the return visit",
        "回访: the customer's satisfaction; `dissatisfied` reopens the order.",
        s.ReturnVisitWriteSerializer,
    )
    @action(detail=True, methods=["post"], url_path="return-visit")
    def return_visit(self, request, number=None):
        user = request.user
        return self.step(
            Action.RETURN_VISIT,
            lambda t, d: services.ticket_record_return_visit(ticket=t, by=user, **d),
            s.ReturnVisitWriteSerializer,
        )

    @step_schema("Reopen the order", "A supervisor reopens a resolved or visited order.", s.NoteSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, number=None):
        user = request.user
        return self.step(
            Action.REOPENED, lambda t, d: services.ticket_reopen(ticket=t, by=user, **d), s.NoteSerializer
        )

    @step_schema("Archive the order", "归档: closes a visited order for good.")
    @action(detail=True, methods=["post"])
    def archive(self, request, number=None):
        user = request.user
        return self.step(Action.ARCHIVED, lambda t, d: services.ticket_archive(ticket=t, by=user))

    @step_schema(
        "Dispatch the order",
        "派单: a supervisor sends a new or returned order to a unit and, optionally, a person of it.",
        s.DispatchSerializer,
    )
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    def dispatch_order(self, request, number=None):
        user = request.user
        return self.step(
            Action.DISPATCHED,
            lambda t, d: services.ticket_dispatch(ticket=t, by=user, **d),
            s.DispatchSerializer,
        )

    @step_schema(
        "Reassign the order",
        "改派: a supervisor moves a dispatched or signed order to another unit or person of their "
        "subtree; the order keeps its status and deadlines, and the new and the former assignee are told.",
        s.ReassignSerializer,
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, number=None):
        user = request.user
        return self.step(
            Action.REASSIGNED,
            lambda t, d: services.ticket_reassign(ticket=t, by=user, **d),
            s.ReassignSerializer,
        )
