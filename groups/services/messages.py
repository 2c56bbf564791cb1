"""Messages in a group: customers' inquiries and staff replies.

A customer's inquiry runs against a response deadline fixed when it is
recorded (groups.health.response_due_at); the first staff reply that answers
it stops the clock.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.validation import is_future, refuse_non_text
from customers.models import Contact, Customer
from groups.health import inquiry_notifications_settle, response_due_at
from groups.models import GroupMessage, Membership, ServiceGroup
from groups.services.groups import lock_group, require_active
from groups.services.summaries import group_health_refresh

# A customer's message counts as an inquiry (咨询/诉求) when the caller does not
# say: it asks something (a question mark, a question word) or names a matter
# the company must act on. Greetings and thanks do not.
INQUIRY_WORDS = (
    "请问",
    "咨询",
    "怎么",
    "如何",
    "为什么",
    "为啥",
    "什么时候",
    "何时",
    "多久",
    "能不能",
    "能否",
    "可不可以",
    "是否",
    "吗",
    "停电",
    "没电",
    "断电",
    "跳闸",
    "电费",
    "欠费",
    "缴费",
    "电表",
    "报修",
    "投诉",
    "故障",
    "帮忙",
)


def looks_like_inquiry(text: str) -> bool:
    """The documented default rule for `message_post(is_inquiry=None)`."""
    text = text or ""
    return "?" in text or "？" in text or any(word in text for word in INQUIRY_WORDS)


def inquiry_fields(text: str, sent_at: datetime, is_inquiry: bool | None) -> dict[str, Any]:
    """Whether a customer's message is an inquiry (`looks_like_inquiry` unless the
    caller says) and, if so, its response deadline, fixed now."""
    inquiry = looks_like_inquiry(text) if is_inquiry is None else bool(is_inquiry)
    return {"is_inquiry": inquiry, "response_due_at": response_due_at(sent_at) if inquiry else None}


def staff_message(*, user: User, **fields: Any) -> GroupMessage:
    """A staff member's message: in a group they speak under their real-name identity (亮明身份)."""
    return GroupMessage(
        sender_kind=GroupMessage.SenderKind.STAFF,
        sender_user=user,
        sender_name=user.identity_card[:100],
        **fields,
    )


def _existing_message(group: ServiceGroup, external_id: str) -> GroupMessage | None:
    if not external_id:
        return None
    return GroupMessage.objects.filter(group=group, external_id=external_id).first()


def _save_message(message: GroupMessage) -> tuple[GroupMessage, bool]:
    """Insert in a savepoint; a concurrent insert of the same external id wins."""
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        existing = _existing_message(message.group, message.external_id)
        if existing is None:
            raise
        return existing, False
    return message, True


@transaction.atomic
def message_post(
    *,
    group: ServiceGroup,
    contact: Contact,
    text: str,
    by: User | None = None,
    sent_at: datetime | None = None,
    is_inquiry: bool | None = None,
    external_id: str = "",
) -> tuple[GroupMessage, bool]:
    """Record a customer's message; returns (message, created).

    The sender must be in the group. `is_inquiry` None applies
    `looks_like_inquiry`. An inquiry gets its response deadline now, from
    when it was sent. A message with an `external_id` already recorded in
    this group returns the first one (ingest may retry). `by` is who logged
    it by hand, if anyone.
    """
    text = (text or "").strip()
    existing = _existing_message(group, external_id)
    if existing:
        return existing, False
    group = lock_group(group)
    require_active(group)
    errors: dict[str, str] = {}
    if not text:
        errors["text"] = _("请填写消息内容。")
    if not Membership.objects.active().filter(group=group, contact=contact).exists():
        errors["contact"] = _("该联系人不是本群成员，请先将其加入本群。")
    sent_at = sent_at or timezone.now()
    if is_future(sent_at):
        errors["sent_at"] = _("发送时间不能晚于现在。")
    if errors:
        raise ValidationError(errors)
    message = GroupMessage(
        group=group,
        sender_kind=GroupMessage.SenderKind.CUSTOMER,
        sender_contact=contact,
        customer_id=contact.customer_id,
        sender_name=contact.name,
        text=text,
        sent_at=sent_at,
        **inquiry_fields(text, sent_at, is_inquiry),
        external_id=external_id,
        recorded_by=by,
    )
    refuse_non_text(message)
    message.full_clean(exclude=["answer", "broadcast"])
    message, created = _save_message(message)
    if created and message.is_inquiry:
        group_health_refresh(group_ids=[group.pk], locked=True)
    return message, created


@dataclass
class Reply:
    message: GroupMessage
    answered: list[int]
    already_answered: bool = False


@transaction.atomic
def reply_post(
    *,
    group: ServiceGroup,
    by: User,
    text: str,
    inquiry: GroupMessage | None = None,
    customer: Customer | None = None,
    sent_at: datetime | None = None,
    external_id: str = "",
) -> Reply:
    """Record a staff member's message in the group, answering inquiries.

    The sender must be a staff member of the group (their identity card is
    what the group sees). It answers `inquiry` when given; otherwise, with a
    `customer`, every unanswered inquiry of that customer in the group asked
    before it; otherwise nothing (a general message, which still counts as
    the owner speaking). Only the first reply answers an inquiry: the answer,
    its time and the response time are set once, under a row lock.
    """
    text = (text or "").strip()
    existing = _existing_message(group, external_id)
    if existing:
        return Reply(message=existing, answered=[])
    group = lock_group(group)
    require_active(group)
    if not text:
        raise ValidationError({"text": _("请填写回复内容。")})
    if not Membership.objects.active().filter(group=group, user=by).exists():
        raise ValidationError(_("您还不是该群成员，请先加入本群并亮明身份。"))
    if inquiry is not None and (inquiry.group_id != group.pk or not inquiry.is_inquiry):
        raise ValidationError({"inquiry": _("只能回复本群客户的咨询。")})
    sent_at = sent_at or timezone.now()
    message, created = _save_message(
        staff_message(
            user=by, group=group, text=text, sent_at=sent_at, external_id=external_id, recorded_by=by
        )
    )
    if not created:
        return Reply(message=message, answered=[])
    waiting = GroupMessage.objects.filter(
        group=group, is_inquiry=True, answered_at__isnull=True, sent_at__lte=sent_at
    )
    if inquiry is not None:
        waiting = waiting.filter(pk=inquiry.pk)
    elif customer is not None:
        waiting = waiting.filter(customer=customer)
    else:
        waiting = waiting.none()
    answered = list(waiting.select_for_update().order_by("sent_at", "id"))
    for row in answered:
        row.answer = message
        row.answered_at = sent_at
        row.response_seconds = max(int((sent_at - row.sent_at).total_seconds()), 0)
    GroupMessage.objects.bulk_update(answered, ["answer", "answered_at", "response_seconds"])
    inquiry_notifications_settle(message_ids=[row.pk for row in answered])
    group_health_refresh(group_ids=[group.pk], locked=True)
    return Reply(
        message=message,
        answered=[row.pk for row in answered],
        already_answered=inquiry is not None and not answered,
    )


@transaction.atomic
def message_link_ticket(*, message: GroupMessage, ticket_number: str) -> GroupMessage:
    """Remember the work order made from a customer's message (the first one stays). The
    order takes the matter up: reminders about the message are settled."""
    GroupMessage.objects.filter(pk=message.pk, ticket_number="").update(ticket_number=ticket_number)
    inquiry_notifications_settle(message_ids=[message.pk])
    message.refresh_from_db(fields=["ticket_number"])
    return message
