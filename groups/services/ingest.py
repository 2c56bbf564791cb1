"""Message ingest: a batch of a group's messages as a WeCom callback or chat-archive export sends them.

The API (groups.api.ingest) and the chat-archive puller (groups.archive) both
come through `messages_ingest`, so a message follows the same rules whichever
way it arrives.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.validation import is_future
from customers.models import Customer
from groups.health import inquiry_notifications_settle
from groups.models import GroupMessage, Membership, ServiceGroup
from groups.services.groups import INSERT_BATCH, lock_group, require_active
from groups.services.messages import inquiry_fields, staff_message
from groups.services.summaries import group_health_refresh

INGEST_MAX_ITEMS = 500


@dataclass
class IngestItem:
    """One message of a WeCom callback or chat-archive export, its format already checked.

    The sender is exactly one of `contact_id`, `mobile` (a contact in the
    group) or `username` (a staff member in the group). A staff message may
    name what it answers: `reply_to` (the external id of an inquiry, recorded
    earlier or in the same batch) or `customer_number` (every earlier
    unanswered inquiry of that customer in the group).
    """

    index: int
    external_id: str
    text: str
    sent_at: datetime
    contact_id: int | None = None
    mobile: str = ""
    username: str = ""
    is_inquiry: bool | None = None
    reply_to: str = ""
    customer_number: str = ""


@dataclass
class IngestOutcome:
    index: int
    external_id: str
    status: str = ""  # created, duplicate or rejected
    message_id: int | None = None
    answered: list[int] | None = None
    errors: dict[str, list[str]] | None = None


@dataclass
class _IngestContext:
    """What the batch names, looked up once: members, customers and the inquiries replied to."""

    contacts: dict[int, dict]
    mobiles: dict[str, list[dict]]
    staff: dict[str, User]
    customers: dict[str, int]
    recorded_inquiries: dict[str, bool]


_CONTACT_FIELDS = ("contact_id", "contact__name", "contact__customer_id", "contact__mobile")


def _ingest_context(group: ServiceGroup, by: User | None, items: list[IngestItem]) -> _IngestContext:
    members = Membership.objects.active().filter(group=group)
    contact_ids = {item.contact_id for item in items if item.contact_id is not None}
    mobiles = {item.mobile for item in items if item.mobile}
    usernames = {item.username for item in items if item.username}
    numbers = {item.customer_number for item in items if item.customer_number}
    refs = {item.reply_to for item in items if item.reply_to}
    context = _IngestContext(contacts={}, mobiles={}, staff={}, customers={}, recorded_inquiries={})
    if contact_ids or mobiles:
        # Senders named by contact id and by mobile, in one query.
        rows = members.filter(Q(contact_id__in=contact_ids) | Q(contact__mobile__in=mobiles))
        for row in rows.values(*_CONTACT_FIELDS):
            if row["contact_id"] in contact_ids:
                context.contacts[row["contact_id"]] = row
            if row["contact__mobile"] in mobiles:
                context.mobiles.setdefault(row["contact__mobile"], []).append(row)
    if usernames:
        staff = members.filter(user__username__in=usernames, user__is_active=True).select_related(
            "user__org_unit"
        )
        context.staff = {membership.user.username: membership.user for membership in staff}
    if numbers and by is not None:
        visible = Customer.objects.visible_to(by).filter(number__in=numbers)
        context.customers = dict(visible.values_list("number", "id"))
    if refs:
        recorded = GroupMessage.objects.filter(group=group, external_id__in=refs)
        context.recorded_inquiries = dict(recorded.values_list("external_id", "is_inquiry"))
    return context


def _ingest_staff_message(
    group: ServiceGroup, item: IngestItem, text: str, context: _IngestContext, errors: dict
) -> GroupMessage | None:
    user = context.staff.get(item.username)
    if user is None:
        errors["user"] = [_("该工作人员不是本群成员，请先将其加入本群并亮明身份。")]
    if item.is_inquiry:
        errors["is_inquiry"] = [_("客户的消息才能是咨询，工作人员的消息才能回复咨询。")]
    if item.customer_number and item.customer_number not in context.customers:
        errors["customer"] = [_("没有该户号的客户档案（可能已被删除），未做修改。")]
    if errors:
        return None
    return staff_message(
        user=user, group=group, text=text, sent_at=item.sent_at, external_id=item.external_id
    )


def _ingest_customer_message(
    group: ServiceGroup, item: IngestItem, text: str, context: _IngestContext, errors: dict
) -> GroupMessage | None:
    if item.reply_to:
        errors["reply_to"] = [_("客户的消息才能是咨询，工作人员的消息才能回复咨询。")]
    if item.customer_number:
        errors["customer"] = [_("客户的消息才能是咨询，工作人员的消息才能回复咨询。")]
    row = None
    if item.contact_id is not None:
        row = context.contacts.get(item.contact_id)
        if row is None:
            errors["contact"] = [_("该联系人不是本群成员，请先将其加入本群。")]
    else:
        rows = context.mobiles.get(item.mobile, [])
        if len(rows) == 1:
            row = rows[0]
        elif rows:
            errors["mobile"] = [_("请选择发送消息的客户联系人。")]
        else:
            errors["mobile"] = [_("该联系人不是本群成员，请先将其加入本群。")]
    if errors:
        return None
    return GroupMessage(
        group=group,
        sender_kind=GroupMessage.SenderKind.CUSTOMER,
        sender_contact_id=row["contact_id"],
        customer_id=row["contact__customer_id"],
        sender_name=(row["contact__name"] or "")[:100],
        text=text,
        sent_at=item.sent_at,
        **inquiry_fields(text, item.sent_at, item.is_inquiry),
        external_id=item.external_id,
    )


def _ingest_message(
    group: ServiceGroup, item: IngestItem, context: _IngestContext, now: datetime
) -> tuple[GroupMessage | None, dict[str, list[str]]]:
    """The row an item becomes, or its errors by field (the rules of message_post and reply_post)."""
    errors: dict[str, list[str]] = {}
    text = (item.text or "").strip()
    if not text:
        errors["text"] = [_("请填写消息内容。")]
    if is_future(item.sent_at, now=now):
        errors["sent_at"] = [_("发送时间不能晚于现在。")]
    build = _ingest_staff_message if item.username else _ingest_customer_message
    return build(group, item, text, context, errors), errors


@transaction.atomic
def messages_ingest(
    *, group: ServiceGroup, by: User | None, items: list[IngestItem], from_archive: bool = False
) -> list[IngestOutcome]:
    """Record a batch of a group's messages as a WeCom callback or chat-archive export sends them.

    Idempotent by the original message id: an `external_id` already recorded
    in the group, or repeated within the batch, is a duplicate and creates
    nothing, so a retried batch changes nothing. Each item follows the rules
    of `message_post` (a customer's message; `is_inquiry` None applies
    `looks_like_inquiry`; an inquiry's deadline is fixed from when it was
    sent) or of `reply_post` (a staff member in the group; the message answers
    the inquiry named by `reply_to`, or with `customer_number` every
    unanswered inquiry of that customer asked before it; only the first reply,
    in order of sending, answers an inquiry). A bad item is rejected with its
    errors by field while the good ones are stored. Ingests into one group
    take turns on its row lock; a batch costs a fixed few queries whatever
    its size (at most INGEST_MAX_ITEMS items).

    `from_archive`: the batch comes from the chat archive (会话内容存档), which
    holds every message of the group, so a staff message that names nothing
    is the response to what was asked before it: it answers every waiting
    inquiry of the group sent at or before it, and an inquiry stored late (held
    back until its sender was known) is answered by the first staff message
    already stored after it. Response times run between the real chat times.
    `by` is None for messages nobody typed in.
    """
    if len(items) > INGEST_MAX_ITEMS:
        raise ValidationError(
            _("一次最多提交%(max)d项，本次%(count)d项。") % {"max": INGEST_MAX_ITEMS, "count": len(items)}
        )
    current = lock_group(group)
    require_active(current)
    now = timezone.now()
    outcomes = {item.index: IngestOutcome(index=item.index, external_id=item.external_id) for item in items}
    seen = set(
        GroupMessage.objects.filter(
            group=current, external_id__in={item.external_id for item in items}
        ).values_list("external_id", flat=True)
    )
    fresh: list[IngestItem] = []
    for item in items:
        if item.external_id in seen:
            outcomes[item.index].status = "duplicate"
        else:
            seen.add(item.external_id)
            fresh.append(item)
    context = _ingest_context(current, by, fresh)
    rows: dict[int, GroupMessage] = {}
    for item in fresh:
        message, errors = _ingest_message(current, item, context, now)
        if message is None:
            outcomes[item.index].status = "rejected"
            outcomes[item.index].errors = errors
        else:
            message.recorded_by = by
            rows[item.index] = message
    batch_inquiries = {message.external_id for message in rows.values() if message.is_inquiry}
    for item in fresh:
        known = context.recorded_inquiries.get(item.reply_to) or item.reply_to in batch_inquiries
        if item.index in rows and item.reply_to and not known:
            del rows[item.index]
            outcomes[item.index].status = "rejected"
            outcomes[item.index].errors = {"reply_to": [_("只能回复本群客户的咨询。")]}
    GroupMessage.objects.bulk_create(list(rows.values()), batch_size=INSERT_BATCH, ignore_conflicts=True)
    stored: dict[str, tuple[int, datetime]] = {}
    if rows:
        created = GroupMessage.objects.filter(
            group=current, external_id__in=[message.external_id for message in rows.values()]
        )
        stored = {
            external_id: (pk, sent_at)
            for pk, external_id, sent_at in created.values_list("id", "external_id", "sent_at")
        }
    for index, message in rows.items():
        outcomes[index].status = "created"
        outcomes[index].message_id = stored[message.external_id][0]
    replies = sorted(
        (item for item in fresh if item.index in rows and item.username),
        key=lambda item: (item.sent_at, item.index),
    )
    _ingest_answers(current, replies, stored, outcomes, context, from_archive=from_archive)
    if from_archive:
        inquiries = [message.external_id for message in rows.values() if message.is_inquiry]
        _ingest_late_inquiries(current, inquiries)
    if rows:
        group_health_refresh(group_ids=[current.pk], locked=True)
    return [outcomes[item.index] for item in items]


def _ingest_answers(
    group: ServiceGroup,
    replies: list[IngestItem],
    stored: dict[str, tuple[int, datetime]],
    outcomes: dict[int, IngestOutcome],
    context: _IngestContext,
    *,
    from_archive: bool = False,
) -> None:
    """The stored staff replies answer inquiries, earliest reply first, under row locks (one
    SELECT ... FOR UPDATE and one UPDATE for the whole batch)."""
    for item in replies:
        outcomes[item.index].answered = []
    refs = {item.reply_to for item in replies if item.reply_to}
    customer_ids = {context.customers[item.customer_number] for item in replies if item.customer_number}
    # From the archive a staff message naming nothing answers whatever waits before it.
    answers_all = from_archive and any(not (item.reply_to or item.customer_number) for item in replies)
    if not (refs or customer_ids or answers_all):
        return
    named = Q() if answers_all else Q(external_id__in=refs) | Q(customer_id__in=customer_ids)
    waiting = list(
        GroupMessage.objects.filter(
            named,
            group=group,
            is_inquiry=True,
            answered_at__isnull=True,
            sent_at__lte=max(item.sent_at for item in replies),
        )
        .select_for_update()
        .order_by("sent_at", "id")
        .only("id", "external_id", "sent_at", "customer_id", "answered_at")
    )
    answered: list[GroupMessage] = []
    for item in replies:
        reply_id, reply_sent_at = stored[item.external_id]
        if item.reply_to:
            candidates = [row for row in waiting if row.external_id == item.reply_to]
        elif item.customer_number:
            customer_id = context.customers[item.customer_number]
            candidates = [row for row in waiting if row.customer_id == customer_id]
        elif from_archive:
            candidates = waiting
        else:
            continue
        for row in candidates:
            if row.answered_at is None and row.sent_at <= reply_sent_at:
                row.answer_id = reply_id
                row.answered_at = reply_sent_at
                row.response_seconds = max(int((reply_sent_at - row.sent_at).total_seconds()), 0)
                answered.append(row)
                outcomes[item.index].answered.append(row.pk)
    GroupMessage.objects.bulk_update(answered, ["answer", "answered_at", "response_seconds"])
    inquiry_notifications_settle(message_ids=[row.pk for row in answered])


def _ingest_late_inquiries(group: ServiceGroup, external_ids: list[str]) -> None:
    """Inquiries of an archive batch that an earlier-stored staff message followed are
    answered by the first such message (one SELECT of the batch's inquiries still
    waiting, one of the staff messages after the earliest, one UPDATE)."""
    if not external_ids:
        return
    waiting = list(
        GroupMessage.objects.filter(group=group, external_id__in=external_ids, answered_at__isnull=True)
        .inquiries()
        .select_for_update()
        .order_by("sent_at", "id")
        .only("id", "sent_at", "answered_at")
    )
    if not waiting:
        return
    staff = list(
        GroupMessage.objects.filter(
            group=group,
            sender_kind=GroupMessage.SenderKind.STAFF,
            broadcast__isnull=True,
            sent_at__gte=waiting[0].sent_at,
        )
        .order_by("sent_at", "id")
        .values_list("id", "sent_at")[:INSERT_BATCH]
    )
    answered: list[GroupMessage] = []
    for row in waiting:
        reply = next(((pk, at) for pk, at in staff if at >= row.sent_at), None)
        if reply is None:
            continue
        row.answer_id, row.answered_at = reply
        row.response_seconds = max(int((reply[1] - row.sent_at).total_seconds()), 0)
        answered.append(row)
    GroupMessage.objects.bulk_update(answered, ["answer", "answered_at", "response_seconds"])
    inquiry_notifications_settle(message_ids=[row.pk for row in answered])
