"""Service groups over REST. Views declare; serializers shape; groups.services decides.

Everything goes through `visible_to(user)`: a group out of the user's scope
answers 404 on its detail, members and messages alike.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response

from core.api.idempotency import IdempotentCreateMixin
from core.api.pagination import KeysetPagination
from core.api.schema import IDEMPOTENCY_KEY, error_responses, list_schema
from groups import selectors
from groups.api import ingest
from groups.api.serializers import (
    GroupMemberAddSerializer,
    GroupMemberSerializer,
    GroupMessageIngestItemSerializer,
    GroupMessageIngestResultSerializer,
    GroupMessageSerializer,
    ServiceGroupChangeSerializer,
    ServiceGroupSerializer,
    ServiceGroupWriteSerializer,
)
from groups.filtersets import GroupFilterSet, MessageFilterSet
from groups.models import GroupMessage, Membership, ServiceGroup
from groups.services.ingest import INGEST_MAX_ITEMS
from groups.services.members import membership_add_contact, membership_add_staff, membership_leave

_WRITE_ERRORS = error_responses(400, 401, 403, 404, 429)


class MessagePagination(KeysetPagination):
    """The log newest first by sending time."""

    ordering = ("-sent_at", "-id")


class MemberPagination(KeysetPagination):
    ordering = "id"


@extend_schema_view(
    list=list_schema(
        "List service groups with their health",
        "Visible groups (active ones unless `archived=true`), newest first, keyset-paginated "
        "(follow `next`). Each carries its health figures, computed in SQL for the whole page.",
        ServiceGroupSerializer,
    ),
    retrieve=extend_schema(
        summary="Get a service group with its health",
        responses={200: ServiceGroupSerializer, **error_responses(401, 404, 429)},
    ),
    create=extend_schema(
        summary="Open a service group",
        description=(
            "The rules (群规) are required; a 台区群 needs a `district`, a 线路群 a `line` within the "
            "owner's unit, a 公共服务群 its `host_organization`. The owner (default: you) joins at once."
        ),
        request=ServiceGroupWriteSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: ServiceGroupSerializer, **error_responses(400, 401, 403, 409, 422, 429)},
    ),
    update=extend_schema(
        summary="Change a service group (all writable fields)",
        description="Only the owner, a supervisor of its unit or an administrator may (403).",
        request=ServiceGroupChangeSerializer,
        responses={200: ServiceGroupSerializer, **_WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a service group",
        description="Only the owner, a supervisor of its unit or an administrator may (403).",
        request=ServiceGroupChangeSerializer,
        responses={200: ServiceGroupSerializer, **_WRITE_ERRORS},
    ),
)
class GroupViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customer service groups (客户群) the user may see."""

    queryset = ServiceGroup.objects.all()
    filterset_class = GroupFilterSet
    pagination_class = KeysetPagination
    ordering_fields = ("id", "name", "created_at", "updated_at")

    def get_queryset(self):
        self.health_now = getattr(self, "health_now", None) or timezone.now()
        return selectors.with_health(selectors.group_queryset(user=self.request.user), self.health_now)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "health_now": getattr(self, "health_now", None)}

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ServiceGroupChangeSerializer
        if self.action == "create":
            return ServiceGroupWriteSerializer
        return ServiceGroupSerializer


class GroupChildMixin:
    """Views under /groups/{group_pk}/: the group must be visible (404 otherwise)."""

    def get_group(self) -> ServiceGroup:
        if not hasattr(self, "_group"):
            self._group = selectors.group_for_action(user=self.request.user, pk=self.kwargs["group_pk"])
        return self._group


@extend_schema_view(
    get=extend_schema(
        summary="List a group's members",
        description="Members now in the group (contacts and staff), in order of joining, keyset-paginated.",
        responses={200: GroupMemberSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    post=extend_schema(
        summary="Add a member",
        description=(
            "Give `contact` (a contact id of a customer you may see) or `user` (a staff member's "
            "username). The group's manager may add anyone; any user who sees the group may add "
            "themselves. 201 when added, 200 when already in the group."
        ),
        request=GroupMemberAddSerializer,
        responses={
            201: GroupMemberSerializer,
            200: GroupMemberSerializer,
            **error_responses(400, 401, 403, 404, 429),
        },
    ),
)
class GroupMemberListView(GroupChildMixin, generics.ListCreateAPIView):
    queryset = Membership.objects.none()
    pagination_class = MemberPagination
    filterset_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return (
            Membership.objects.active()
            .filter(group=self.get_group())
            .select_related("contact__customer", "user")
        )

    def get_serializer_class(self):
        return GroupMemberAddSerializer if self.request.method == "POST" else GroupMemberSerializer

    def create(self, request, *args, **kwargs):
        group = self.get_group()
        serializer = GroupMemberAddSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "contact" in data:
            membership, created = membership_add_contact(
                group=group, contact=data["contact"], by=request.user
            )
        else:
            membership, created = membership_add_staff(group=group, user=data["user"], by=request.user)
        membership = self.get_queryset().get(pk=membership.pk)
        return Response(
            GroupMemberSerializer(membership, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class GroupMemberMixin(GroupChildMixin):
    def get_membership(self) -> Membership:
        return generics.get_object_or_404(
            Membership.objects.active().select_related("contact__customer", "user"),
            group=self.get_group(),
            pk=self.kwargs["pk"],
        )


@extend_schema_view(
    delete=extend_schema(
        summary="Remove a member (they leave the group)",
        description=(
            "The group's manager removes anyone but the owner; a staff member may remove themselves. "
            "The membership is kept with its leaving time."
        ),
        responses={204: OpenApiResponse(description="Left."), **error_responses(400, 401, 403, 404, 429)},
    ),
)
class GroupMemberDetailView(GroupMemberMixin, generics.GenericAPIView):
    serializer_class = GroupMemberSerializer
    filterset_class = None

    def delete(self, request, *args, **kwargs):
        membership_leave(membership=self.get_membership(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    post=extend_schema(
        summary="Leave the group (a member)",
        description="The same as DELETE of the member, answering with the membership and its leaving time.",
        request=None,
        responses={200: GroupMemberSerializer, **error_responses(400, 401, 403, 404, 429)},
    ),
)
class GroupMemberLeaveView(GroupMemberMixin, generics.GenericAPIView):
    serializer_class = GroupMemberSerializer
    filterset_class = None

    def post(self, request, *args, **kwargs):
        membership = membership_leave(membership=self.get_membership(), by=request.user)
        return Response(GroupMemberSerializer(membership, context=self.get_serializer_context()).data)


INGEST_DESCRIPTION = f"""Record a batch of the group's messages (up to {INGEST_MAX_ITEMS}), as a
WeCom callback or a chat-archive export sends them.

Each item names its original message id (`external_id`), one sender (`contact` id or `mobile` of a
contact in the group, or a staff member's `user` name), `text` and `sent_at`; a customer's message may
say `is_inquiry` (left out: guessed from the text). A staff message answers the inquiry named by
`reply_to` (an external id), or with `customer` (a number) every earlier unanswered inquiry of that
customer, as a reply from the group page does: the first reply answers.

Idempotent: an `external_id` already recorded in the group (or repeated in the batch) comes back as
`duplicate` and nothing is created twice, so a batch may be sent again safely. A bad item comes back
as `rejected` with its field errors while the good ones are stored; a body that is not a list or is
longer than {INGEST_MAX_ITEMS}, a batch whose every item is rejected (the 400's `errors` keyed by each
item's position), or a group that is archived, answers 400 and stores nothing.
Anyone who sees the group may ingest, as anyone may log a message on its page; the senders must be
members of the group.
"""


@extend_schema_view(
    get=extend_schema(
        summary="A group's message log",
        description="Messages newest first by sending time, keyset-paginated (follow `next`).",
        responses={200: GroupMessageSerializer(many=True), **error_responses(400, 401, 404, 429)},
    ),
    post=extend_schema(
        operation_id="groups_messages_ingest",
        summary="Ingest a batch of messages",
        description=INGEST_DESCRIPTION,
        request=GroupMessageIngestItemSerializer(many=True),
        responses={200: GroupMessageIngestResultSerializer, **error_responses(400, 401, 404, 429)},
    ),
)
class GroupMessageListView(GroupChildMixin, generics.ListAPIView):
    queryset = GroupMessage.objects.none()
    serializer_class = GroupMessageSerializer
    pagination_class = MessagePagination
    filterset_class = MessageFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return GroupMessage.objects.filter(group=self.get_group()).select_related("customer", "sender_user")

    def post(self, request, *args, **kwargs):
        return Response(
            ingest.messages_ingest_batch(group=self.get_group(), by=request.user, data=request.data)
        )
