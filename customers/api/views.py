"""The customer archive over REST. Views declare; serializers shape; customers.services decides."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.text import compress_sequence
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.etag import ETagMixin
from core.api.fields import PageLimitField
from core.api.idempotency import IdempotentCreateMixin, respond_idempotently
from core.api.pagination import KeysetPagination
from core.api.renderers import NDJSONRenderer
from core.api.schema import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    error_responses,
    etag_header,
    list_schema,
    retrieve_schema,
)
from core.api.scoping import ScopedQuerysetMixin
from customers import selectors, services
from customers.api import bulk, sync
from customers.api.serializers import (
    BulkResultSerializer,
    CustomerSerializer,
    CustomerWriteSerializer,
    SyncCustomerSerializer,
    SyncTombstoneSerializer,
    customer_queryset,
)
from customers.filtersets import CustomerFilterSet
from customers.phone_access import phone_reads_record, reads_every_phone

_WRITE_ERRORS = error_responses(400, 401, 403, 404, 412, 429)


@extend_schema_view(
    list=list_schema(
        "List customers",
        "Visible live archives, newest first, keyset-paginated (follow `next`).",
        CustomerSerializer,
    ),
    retrieve=retrieve_schema(
        "Get a customer by number",
        "One visible archive with its contacts (phones masked unless you manage the customer or "
        "use an integration account; an integration account's reads are recorded).",
        CustomerSerializer,
    ),
    create=extend_schema(
        summary="Open a customer archive",
        description="Contacts may be given in the same request. The customer number is fixed once created.",
        request=CustomerWriteSerializer,
        parameters=[IDEMPOTENCY_KEY, etag_header(201)],
        responses={201: CustomerSerializer, **error_responses(400, 401, 403, 409, 422, 429)},
    ),
    update=extend_schema(
        summary="Change a customer (all writable fields)",
        description="Fields left out stay as they are; `contacts`, when given, replaces the contact set.",
        request=CustomerWriteSerializer,
        parameters=[IF_MATCH, etag_header(200, 412)],
        responses={200: CustomerSerializer, **_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a customer",
        description="`contacts`, when given, replaces the contact set.",
        request=CustomerWriteSerializer,
        parameters=[IF_MATCH, etag_header(200, 412)],
        responses={200: CustomerSerializer, **_WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a customer archive",
        description=(
            "A soft delete: the archive leaves lists and pages and appears in the sync feed as a "
            "tombstone. Only the owner, a supervisor of its unit or an administrator may delete (403)."
        ),
        parameters=[IF_MATCH, etag_header(412)],
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 403, 404, 412, 429)},
    ),
)
class CustomerViewSet(ScopedQuerysetMixin, ETagMixin, IdempotentCreateMixin, viewsets.ModelViewSet):
    """Customer archives (客户档案) the user may see, looked up by customer number."""

    queryset = customer_queryset()
    lookup_field = "number"
    filterset_class = CustomerFilterSet
    pagination_class = KeysetPagination
    ordering_fields = ("id", "number", "name", "created_at", "updated_at")

    def get_serializer_class(self):
        if self.action in ("create", "update", "partial_update"):
            return CustomerWriteSerializer
        return CustomerSerializer

    def rows_by_unit(self, customers, order, count):
        # A supervisor's list is read station by station, as the list page reads it. The ids
        # carry the scope and every filter: only those rows are joined to what a response shows.
        ids = selectors.customer_first_ids(
            user=self.request.user,
            customers=customers,
            params=self.request.query_params,
            order=order,
            count=count,
        )
        return None if ids is None else customer_queryset().filter(pk__in=ids)

    def perform_update(self, serializer):
        serializer.save(if_match=self.if_match_versions(serializer.instance))

    def finalize_response(self, request, response, *args, **kwargs):
        # Every response that shows archives' phones in full to an integration account is recorded.
        if reads_every_phone(request.user) and status.is_success(response.status_code):
            data = response.data
            shown = data.get("results", []) if isinstance(data, dict) and "results" in data else [data]
            numbers = [row["number"] for row in shown if isinstance(row, dict) and "contacts" in row]
            phone_reads_record(
                user=request.user, endpoint=f"{request.method} {request.path}", numbers=numbers
            )
        return super().finalize_response(request, response, *args, **kwargs)

    def perform_destroy(self, instance):
        services.customer_soft_delete_if_unchanged(
            customer=instance, user=self.request.user, expected_versions=self.if_match_versions(instance)
        )


class SyncQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The `next` of the previous call; empty or left out to start from the beginning.",
    )
    limit = PageLimitField(required=False, help_text="Rows per page (default API_SYNC_PAGE_SIZE).")

    def validate_cursor(self, value: str) -> list | None:
        try:
            return sync.unsign_cursor(value)
        except ValueError:
            raise serializers.ValidationError(_("无效的同步游标。")) from None


class SyncPageSerializer(serializers.Serializer):
    # `deleted` tells the shapes apart: each pins it with `const` (customers.api.serializers).
    # No OpenAPI `discriminator` object: its values must be strings, and generators that
    # read it would type the boolean as "true"/"false" text.
    results = PolymorphicProxySerializer(
        component_name="CustomerSyncRow",
        serializers=[SyncCustomerSerializer, SyncTombstoneSerializer],
        resource_type_field_name=None,
        many=True,
    )
    next = serializers.CharField(help_text="Keep it and send it as `cursor` next time.")
    has_more = serializers.BooleanField(help_text="The page was full: call again now.")
    held_back = serializers.BooleanField(
        help_text="Changes already committed wait behind a transaction still open on the server: "
        "they come in a later call. Not caught up even when `results` is empty."
    )
    held_back_since = serializers.DateTimeField(
        allow_null=True, help_text="When the transaction holding them back started (null if unknown or none)."
    )


class SyncGoneSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=["cursor_expired"])
    reason = serializers.ChoiceField(
        choices=["epoch", "user", "scope", "ahead", "format"],
        help_text="epoch: the server's data were restored or moved; user: the cursor is another "
        "user's; scope: what you may see changed; ahead: a position the feed never reached; "
        "format: a cursor of an older version of the feed.",
    )


SYNC_DESCRIPTION = """Walk every archive you may see, then keep up with changes.

Start without `cursor`; call again with the `next` of each response while
`has_more` is true. Keep the last `next`: a later call with it returns only
what changed since (an archive changed several times comes once, in its
latest state), including changes of its contacts. Deleted archives come as
tombstones `{"number": "...", "deleted": true}` (a first walk may include
tombstones of archives deleted long ago; skip the numbers you do not have).
Other rows have the shape of `GET /api/v1/customers/{number}/` plus
`"deleted": false`.

An archive that leaves what you may see (moved to another station or
manager) comes as `{"number": "...", "deleted": true, "reason": "out_of_scope"}`;
one that enters it comes in full. An archive an administrator deleted for good
comes as a tombstone too.

Nothing is skipped: a change shows up only once its transaction has
certainly finished, after every change that could still commit before it, so
a cursor never passes over a change that commits late. While a transaction
is open on the server, changes committed after it started wait:
`"held_back": true` (and the header `Sync-Held-Back-Since`, the moment it
started) says so; the client is not caught up then and asks again later
(every few seconds), keeping its cursor.

The cursor is opaque and signed; it belongs to the user it was issued to,
for what they may see now and for this database. **410 Gone** with
`{"code": "cursor_expired", "reason": ...}` means it no longer fits (your
unit or role changed, the org tree was reorganised, the server's data were
restored): drop the local copy and walk again from the start without
`cursor`. Rows come in a stable order.

**NDJSON** (`Accept: application/x-ndjson` or `?format=ndjson`): the whole
walk from `cursor` to the current end in one response, one JSON object per
line: the rows (same shapes as `results`), after every `limit` rows a
checkpoint `{"next": "<cursor>"}`, and last a trailer `{"next", "has_more":
false, "held_back", "held_back_since", "rows"}`. A stream that ends without
the trailer was cut short: resume with the last checkpoint's `next` (rows
after it come again; applying them twice changes nothing). Errors (400, 401,
410, 429) are JSON bodies as usual. See docs/SYNC.md.
"""


def _gzip_stream(request, response: StreamingHttpResponse) -> None:
    """Gzip the stream for token-signed requests that accept it (the API's rule against BREACH,
    core.middleware.TokenApiGZipMiddleware, which compresses JSON only)."""
    patch_vary_headers(response, ("Accept", "Accept-Encoding"))
    token_signed = isinstance(request.successful_authenticator, TokenAuthentication)
    if token_signed and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response.streaming_content = compress_sequence(response.streaming_content)
        response["Content-Encoding"] = "gzip"


class CustomerSyncView(APIView):
    """The archive's change feed (see customers.api.sync)."""

    renderer_classes = [*APIView.renderer_classes, NDJSONRenderer]

    def _streams(self) -> bool:
        return isinstance(getattr(self.request, "accepted_renderer", None), NDJSONRenderer)

    def handle_exception(self, exc):
        # Errors are JSON bodies, also when the stream was asked for.
        if self._streams():
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    @extend_schema(
        operation_id="customers_sync",
        summary="Sync the customer archive",
        description=SYNC_DESCRIPTION,
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": sync.MAX_LIMIT},
                OpenApiParameter.QUERY,
                required=False,
                description=(
                    f"Rows per page, 1 to {sync.MAX_LIMIT} (default API_SYNC_PAGE_SIZE); more is a 400 "
                    "with the code `limit_too_large`."
                ),
            ),
            OpenApiParameter(
                sync.HELD_BACK_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[200],
                description="Present when changes wait behind a transaction still open on the server: "
                "the moment it started (ISO 8601), or `unknown`.",
            ),
        ],
        responses={
            (200, "application/json"): SyncPageSerializer,
            (200, sync.STREAM_MEDIA_TYPE): OpenApiResponse(
                {"type": "string"},
                description='NDJSON: one row (CustomerSyncRow) per line, a checkpoint `{"next"}` after every '
                '`limit` rows, and the trailer `{"next", "has_more", "held_back", '
                '"held_back_since", "rows"}` last.',
            ),
            410: OpenApiResponse(SyncGoneSerializer, description="The cursor no longer fits: walk again."),
            **error_responses(400, 401, 429),
        },
    )
    def get(self, request):
        query = SyncQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data.get("limit") or settings.API_SYNC_PAGE_SIZE
        state = sync.feed_state()
        cursor = sync.check_cursor(query.validated_data["cursor"], user=request.user, state=state)
        if self._streams():
            lines = sync.sync_stream(user=request.user, cursor=cursor, state=state, every=limit)
            response = StreamingHttpResponse(lines, content_type=sync.STREAM_MEDIA_TYPE)
            _gzip_stream(request, response)
        elif connection.vendor == "postgresql":
            body = sync.sync_page_json(user=request.user, cursor=cursor, limit=limit, state=state)
            response = HttpResponse(body, content_type="application/json")
        else:
            response = Response(sync.sync_page(user=request.user, cursor=cursor, limit=limit, state=state))
        if state.held_back:
            response[sync.HELD_BACK_HEADER] = sync.held_back_header(state)
        return response


@extend_schema_field({"anyOf": [{"$ref": "#/components/schemas/CustomerWrite"}, {}]})
class BulkItemField(serializers.JSONField):
    """An item of a bulk upsert, as documented: meant to be a CustomerWrite, but any item
    is taken, and one that is no valid CustomerWrite comes back as an `invalid` outcome
    of the 200; only a body that is no array, or a longer one, is a 400."""


class CustomerBulkView(APIView):
    """Upsert by customer number (see customers.api.bulk)."""

    @extend_schema(
        operation_id="customers_bulk_upsert",
        summary="Create or change up to 1,000 customers by number",
        description=bulk.__doc__,
        request=serializers.ListSerializer(child=BulkItemField(), max_length=bulk.MAX_ITEMS),
        parameters=[IDEMPOTENCY_KEY],
        responses={200: BulkResultSerializer, **error_responses(400, 401, 409, 422, 429)},
    )
    def post(self, request):
        context = {"request": request, "view": self, "format": self.format_kwarg}
        return respond_idempotently(
            request,
            lambda: Response(
                bulk.customer_bulk_upsert(items=request.data, context=context), status=status.HTTP_200_OK
            ),
        )
