"""Broadcasts (群发) to groups, with one-to-one notices to important customers.

A broadcast reaches important customers one-to-one as well, never only
through the group (seed 000 §01, §03).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, User
from customers.models import Contact, sensitive_q
from groups.models import Broadcast, BroadcastTopic, GroupMessage, ServiceGroup
from groups.selectors import broadcast_groups_for
from groups.services.messages import staff_message
from groups.services.posts import posts_create
from groups.services.summaries import group_health_refresh
from groups.signals import broadcast_published
from notifications.models import Notification
from notifications.services import NotificationDraft, notifications_enqueue_many


def important_contacts(group_ids: list[int]):
    """Contacts in those groups now whose customer needs one-to-one contact."""
    return (
        Contact.objects.filter(
            sensitive_q("customer__"),
            customer__deleted_at__isnull=True,
            group_memberships__group_id__in=group_ids,
            group_memberships__left_at__isnull=True,
        )
        .order_by("id")
        .distinct()
    )


def _check_content(topic: str, title: str, body: str, errors: dict[str, str]) -> None:
    if topic not in BroadcastTopic.values:
        errors["topic"] = _("请选择主题。")
    if not title:
        errors["title"] = _("请填写标题。")
    if not body:
        errors["body"] = _("请填写正文；分享文章时请附上简短的文字说明。")


@transaction.atomic
def broadcast_create(
    *,
    by: User,
    topic: str,
    title: str,
    body: str,
    groups: list[ServiceGroup],
    scheduled_at: datetime | None = None,
    forward_to_important: bool = True,
    important_told_elsewhere: bool = False,
) -> Broadcast:
    """Prepare a 群发 to groups the author sees. Without `scheduled_at` it is
    published at once; with one, the minute scan publishes it then.

    Important customers must be told one-to-one (seed 000 §03): a broadcast
    to groups that hold any cannot switch off `forward_to_important` — unless
    the caller tells them itself (`important_told_elsewhere`, an immediate
    broadcast only), as outage notices do, so nobody gets the same SMS twice.
    """
    errors: dict[str, str] = {}
    title, body = (title or "").strip(), (body or "").strip()
    _check_content(topic, title, body, errors)
    group_ids = sorted({group.pk for group in groups})
    if not group_ids:
        errors["groups"] = _("请至少选择一个客户群。")
    elif broadcast_groups_for(by).filter(pk__in=group_ids).count() != len(group_ids):
        errors["groups"] = _("只能发送到您可见且未归档的客户群。")
    if scheduled_at is not None and scheduled_at < timezone.now() - timedelta(minutes=1):
        errors["scheduled_at"] = _("计划发布时间不能早于现在；立即发布请留空。")
    if not by.org_unit_id:
        errors["__all__"] = _("您没有所属单位，不能群发。")
    if important_told_elsewhere:
        if scheduled_at is not None:
            errors["scheduled_at"] = _("由其他渠道点对点通知的群发只能立即发布。")
        forward_to_important = False
    elif not errors and not forward_to_important:
        important = important_contacts(group_ids).count()
        if important:
            errors["forward_to_important"] = _(
                "目标群中有%(count)d位重点客户，须点对点转发给他们，不能只发群消息。"
            ) % {"count": important}
    if errors:
        raise ValidationError(errors)
    broadcast = Broadcast.objects.create(
        topic=topic,
        title=title[:100],
        body=body,
        scheduled_at=scheduled_at,
        forward_to_important=forward_to_important,
        org_unit_id=by.org_unit_id,
        created_by=by,
    )
    broadcast.groups.set(group_ids)
    if scheduled_at is None or scheduled_at <= timezone.now():
        broadcast_publish(broadcast=broadcast, by=by, forward=not important_told_elsewhere)
        broadcast.refresh_from_db()
    return broadcast


@dataclass
class GroupBroadcasts:
    broadcasts: dict[int, Broadcast]  # group id → the broadcast it took
    refused: dict[int, str]  # group id → why it took none


@transaction.atomic
def broadcasts_create_per_group(
    *, topic: str, title: str, body: str, groups: list[ServiceGroup]
) -> GroupBroadcasts:
    """One 群发 to each group from its owner, published at once, set-based (an outage
    notice to the groups of the affected districts): what `broadcast_create(by=owner,
    groups=[group], important_told_elsewhere=True)` does group by group — the caller
    tells important customers itself —, in a few statements whatever the number of
    groups. A group whose owner may not send to it (out of their sight, archived, no
    unit) takes none and is listed in `refused`; bad content refuses them all
    (ValidationError)."""
    errors: dict[str, str] = {}
    title, body = (title or "").strip(), (body or "").strip()
    _check_content(topic, title, body, errors)
    if errors:
        raise ValidationError(errors)
    groups = sorted({group.pk: group for group in groups}.values(), key=lambda group: group.pk)
    owners = {group.owner_id: group.owner for group in groups}
    # The groups each owner may send to, as `broadcast_create` asks: one query for all owners.
    sendable = ServiceGroup.objects.none()
    for owner in owners.values():
        mine = [group.pk for group in groups if group.owner_id == owner.pk]
        sendable = sendable | broadcast_groups_for(owner).filter(owner=owner, pk__in=mine)
    allowed = set(sendable.values_list("pk", flat=True))
    refused: dict[int, str] = {}
    now = timezone.now()
    rows = []
    for group in groups:
        if not group.owner.org_unit_id:
            refused[group.pk] = _("您没有所属单位，不能群发。")
        elif group.pk not in allowed:
            refused[group.pk] = _("只能发送到您可见且未归档的客户群。")
        else:
            rows.append(
                Broadcast(
                    topic=topic,
                    title=title[:100],
                    body=body,
                    forward_to_important=False,
                    org_unit_id=group.owner.org_unit_id,
                    created_by=group.owner,
                    created_at=now,
                    # Nobody else can see them before this transaction commits: no claim needed.
                    published_at=now,
                )
            )
    broadcasts = Broadcast.objects.bulk_create(rows)
    sent = [group for group in groups if group.pk not in refused]
    Broadcast.groups.through.objects.bulk_create(
        [
            Broadcast.groups.through(broadcast_id=broadcast.pk, servicegroup_id=group.pk)
            for broadcast, group in zip(broadcasts, sent, strict=True)
        ]
    )
    with translation.override(settings.LANGUAGE_CODE):
        _send_to_groups(broadcasts, now)
    return GroupBroadcasts(
        broadcasts={group.pk: broadcast for broadcast, group in zip(broadcasts, sent, strict=True)},
        refused=refused,
    )


@dataclass
class Publication:
    published: bool
    group_messages: int = 0
    personal_notices: int = 0


def _contact_draft(broadcast: Broadcast, contact: dict) -> NotificationDraft | None:
    """SMS to the contact's mobile, or e-mail when they prefer it and have an address."""
    if contact["preferred_channel"] == Contact.Channel.EMAIL and contact["email"]:
        channel, address = Notification.Channel.EMAIL, contact["email"]
    elif contact["mobile"]:
        channel, address = Notification.Channel.SMS, contact["mobile"]
    else:
        return None
    return NotificationDraft(
        dedupe_key=f"broadcast:{broadcast.pk}:contact:{contact['id']}",
        subject=_("【%(topic)s】%(title)s")
        % {"topic": broadcast.get_topic_display(), "title": broadcast.title},
        body=broadcast.body,
        channel=channel,
        address=address,
        recipient_label=contact["name"],
    )


def _send_to_groups(broadcasts: list[Broadcast], now: datetime) -> dict[int, list[int]]:
    """The claimed broadcasts go to their active target groups: one message in each
    (from the author) and, in groups linked to WeCom, a 群发 task their owner confirms
    there. Returns broadcast id → the ids of the groups it went to."""
    ids = [broadcast.pk for broadcast in broadcasts]
    # The target groups locked in id order before their messages are written, as every
    # writer of a group's messages does (their health rows follow).
    targets = list(
        ServiceGroup.objects.filter(broadcasts__in=ids, archived_at__isnull=True)
        .order_by("pk", "broadcasts")
        .select_for_update(of=("self",))
        .values_list("broadcasts", "id", "owner_id")
    )
    to_groups: dict[int, list[int]] = {broadcast_id: [] for broadcast_id in ids}
    spoken: set[int] = set()
    by_id = {broadcast.pk: broadcast for broadcast in broadcasts}
    for broadcast_id, group_id, owner_id in targets:
        to_groups[broadcast_id].append(group_id)
        # A staff message changes a group's health only as its owner speaking.
        if owner_id == by_id[broadcast_id].created_by_id:
            spoken.add(group_id)
    messages = []
    for broadcast in broadcasts:
        text = f"【{broadcast.get_topic_display()}】{broadcast.title}\n{broadcast.body}"
        messages += [
            staff_message(
                user=broadcast.created_by,
                group_id=group_id,
                text=text,
                sent_at=now,
                broadcast=broadcast,
                external_id=f"broadcast:{broadcast.pk}",
            )
            for group_id in to_groups[broadcast.pk]
        ]
    GroupMessage.objects.bulk_create(messages, ignore_conflicts=True)
    posts_create(targets=[(broadcast, to_groups[broadcast.pk]) for broadcast in broadcasts], now=now)
    group_health_refresh(group_ids=spoken, locked=True)
    return to_groups


def _publish(broadcast: Broadcast, now: datetime, *, forward: bool = True) -> Publication:
    """The claimed broadcast goes out: one message in each active target group
    (from its author) and, unless the caller tells them itself, one personal
    notice per important customer contact."""
    if not Broadcast.objects.filter(pk=broadcast.pk, published_at__isnull=True).update(published_at=now):
        return Publication(published=False)
    group_ids = _send_to_groups([broadcast], now)[broadcast.pk]
    if not forward:
        return Publication(published=True, group_messages=len(group_ids))
    contacts = important_contacts(group_ids).values("id", "name", "mobile", "email", "preferred_channel")
    drafts = [draft for contact in contacts if (draft := _contact_draft(broadcast, contact))]
    sent = notifications_enqueue_many(drafts)
    Broadcast.objects.filter(pk=broadcast.pk).update(personal_notices=F("personal_notices") + sent)
    broadcast_published.send(sender=Broadcast, broadcast_id=broadcast.pk)
    return Publication(published=True, group_messages=len(group_ids), personal_notices=sent)


@transaction.atomic
def broadcast_publish(*, broadcast: Broadcast, by: User | None = None, forward: bool = True) -> Publication:
    """Publish now; exactly once. The claim is a conditional UPDATE of
    `published_at`, so a second publisher (a double click, the scan) gets
    `published=False` and sends nothing. Important customers in the target
    groups always get their own SMS or e-mail, dedupe key
    `broadcast:<id>:contact:<contact_id>`."""
    if by is not None and by.pk != broadcast.created_by_id:
        group_unit = OrgUnit.objects.get(pk=broadcast.org_unit_id)
        allowed = by.is_administrator or (
            by.is_supervisor and by.org_unit_id and group_unit.is_within(by.org_unit)
        )
        if not allowed:
            raise PermissionDenied(_("只有发布人、本单位主管或系统管理员可以发布该群发。"))
    with translation.override(settings.LANGUAGE_CODE):
        return _publish(broadcast, timezone.now(), forward=forward)


def broadcasts_publish_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Publish every scheduled broadcast whose time has come; returns how many.

    Each is claimed in its own transaction with `FOR UPDATE SKIP LOCKED` (two
    workers take different rows on PostgreSQL) and then the conditional
    UPDATE of `broadcast_publish` (which keeps them apart on SQLite).
    """
    now = now or timezone.now()
    published = 0
    for _round in range(limit):
        with transaction.atomic():
            row = (
                Broadcast.objects.due(now)
                .order_by("scheduled_at", "id")
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("created_by__org_unit")
                .first()
            )
            if row is None:
                break
            with translation.override(settings.LANGUAGE_CODE):
                if _publish(row, timezone.now()).published:
                    published += 1
    return published
