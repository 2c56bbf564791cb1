"""Storing the chat archive's group messages in the CRM.

The rules, in one place:

- Only what was said in a group counts: a message with a `roomid`, action
  `send`, type `text`. One-to-one chats (no roomid), the other types (images,
  voice, files, ...), `switch` entries and group robots ("wb" senders) are
  passed over and counted as skipped.
- A `recall` (type `revoke`) marks the stored message it names as withdrawn
  (`recalled_at`); an unanswered inquiry withdrawn by its sender no longer
  waits for a reply. A recall of a message the CRM never stored changes nothing.
- The room is the group whose `external_id` is the roomid. The sender is a
  customer's contact when the id is an external one ("wo"/"wm"): the contact
  with that `wecom_external_userid` who is in the group, else any contact
  with it (the ingest rules then refuse a non-member); otherwise a staff
  member with that `wecom_userid`. The msgid is the message's external id, so
  reading the same message twice stores it once.
- The messages then go through `messages_ingest(from_archive=True)`: inquiry
  detection, deadlines, staff messages answering waiting inquiries at their
  real chat times, the group's health row.
- A message whose group or sender is unknown, or that the ingest rules refuse
  (a contact or a staff member who is not in the group in the CRM, an
  archived group, a time ahead of our clock), is kept in
  HeldArchiveMessage and tried again on every pull once its room is a known
  group: nothing the archive gave is lost.
- `archive_pull` moves the source's cursor in the transaction that stores
  the batch: a puller killed mid-batch reads the batch again, and the msgids
  make that harmless.

A batch costs a fixed number of queries plus a fixed number per group it
touches (the ingest of one group), whatever the number of messages.
"""

import logging
from dataclasses import dataclass, fields

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from customers.models import Contact
from groups.archive.sources import ArchivedMessage, ArchiveSource, configured_source
from groups.models import ArchiveCursor, GroupMessage, HeldArchiveMessage, Membership, ServiceGroup
from groups.services.groups import INSERT_BATCH
from groups.services.ingest import INGEST_MAX_ITEMS, IngestItem, messages_ingest
from groups.services.summaries import group_health_refresh

logger = logging.getLogger(__name__)

EXTERNAL_PREFIXES = ("wo", "wm")
ROBOT_PREFIX = "wb"
ID_MAX = 64
# Batches one pull reads at most, so a backlog drains without one task running for ever.
PULL_MAX_BATCHES = 10


@dataclass
class ArchiveReport:
    read: int = 0
    created: int = 0
    duplicate: int = 0
    held: int = 0
    skipped: int = 0
    recalled: int = 0

    def add(self, other: "ArchiveReport") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def _is_external(sender: str) -> bool:
    return sender.startswith(EXTERNAL_PREFIXES)


def _well_formed(message: ArchivedMessage) -> bool:
    ids = (message.msgid, message.roomid, message.sender)
    return all(0 < len(value) <= ID_MAX for value in ids) and message.sent_at is not None


def _held(message: ArchivedMessage, reason: str, detail: str = "") -> HeldArchiveMessage:
    return HeldArchiveMessage(
        msgid=message.msgid,
        seq=message.seq,
        roomid=message.roomid,
        sender=message.sender,
        sent_at=message.sent_at,
        reason=reason,
        detail=detail[:200],
        payload=message.data,
    )


def _contacts_by_sender(group_ids: set[int], external_ids: set[str]) -> dict:
    """(group id, external_userid) → the contact in that group, and external_userid →
    any contact with it (lowest id first), in at most two queries."""
    found: dict = {}
    members = (
        Membership.objects.active()
        .filter(group_id__in=group_ids, contact__wecom_external_userid__in=external_ids)
        .order_by("contact_id")
        .values_list("group_id", "contact__wecom_external_userid", "contact_id")
    )
    for group_id, external_id, contact_id in members:
        found.setdefault((group_id, external_id), contact_id)
        found.setdefault(external_id, contact_id)
    missing = external_ids - {key for key in found if isinstance(key, str)}
    if missing:
        others = Contact.objects.filter(wecom_external_userid__in=missing).order_by("id")
        for external_id, contact_id in others.values_list("wecom_external_userid", "id"):
            found.setdefault(external_id, contact_id)
    return found


def _refusal(errors: dict[str, list[str]] | None) -> str:
    return "；".join(str(text) for texts in (errors or {}).values() for text in texts)


def _ingest_group(
    group: ServiceGroup, items: list[IngestItem], sources: dict[int, ArchivedMessage], report: ArchiveReport
) -> list[HeldArchiveMessage]:
    held: list[HeldArchiveMessage] = []
    for start in range(0, len(items), INGEST_MAX_ITEMS):
        chunk = items[start : start + INGEST_MAX_ITEMS]
        try:
            outcomes = messages_ingest(group=group, by=None, items=chunk, from_archive=True)
        except ValidationError as exc:  # archived meanwhile: the whole chunk waits
            detail = "；".join(exc.messages)
            refused = HeldArchiveMessage.Reason.REFUSED
            held.extend(_held(sources[item.index], refused, detail) for item in chunk)
            continue
        for outcome in outcomes:
            if outcome.status == "created":
                report.created += 1
            elif outcome.status == "duplicate":
                report.duplicate += 1
            else:
                message = sources[outcome.index]
                held.append(_held(message, HeldArchiveMessage.Reason.REFUSED, _refusal(outcome.errors)))
    return held


def _ingest_texts(messages: list[ArchivedMessage], report: ArchiveReport) -> list[HeldArchiveMessage]:
    """Group text messages → ingest items by group; what cannot be placed is returned to hold."""
    groups = {
        group.external_id: group
        for group in ServiceGroup.objects.filter(external_id__in={message.roomid for message in messages})
    }
    staff_ids = {message.sender for message in messages if not _is_external(message.sender)}
    external_ids = {message.sender for message in messages if _is_external(message.sender)}
    usernames = (
        dict(User.objects.filter(wecom_userid__in=staff_ids).values_list("wecom_userid", "username"))
        if staff_ids
        else {}
    )
    contacts = (
        _contacts_by_sender({group.pk for group in groups.values()}, external_ids) if external_ids else {}
    )
    held: list[HeldArchiveMessage] = []
    by_group: dict[str, list[IngestItem]] = {}
    sources: dict[int, ArchivedMessage] = {}
    for index, message in enumerate(messages):
        group = groups.get(message.roomid)
        if group is None:
            held.append(_held(message, HeldArchiveMessage.Reason.UNKNOWN_ROOM))
            continue
        item = IngestItem(index=index, external_id=message.msgid, text=message.text, sent_at=message.sent_at)
        if _is_external(message.sender):
            item.contact_id = contacts.get((group.pk, message.sender)) or contacts.get(message.sender)
        else:
            item.username = usernames.get(message.sender, "")
        if item.contact_id is None and not item.username:
            held.append(_held(message, HeldArchiveMessage.Reason.UNKNOWN_SENDER))
            continue
        sources[index] = message
        by_group.setdefault(message.roomid, []).append(item)
    # Groups locked in id order, as every multi-group writer does, so two batches cannot deadlock.
    for roomid in sorted(by_group, key=lambda roomid: groups[roomid].pk):
        held.extend(_ingest_group(groups[roomid], by_group[roomid], sources, report))
    return held


def _recall(recalls: list[ArchivedMessage]) -> int:
    """Mark the stored messages these recalls name as withdrawn, under their groups' locks."""
    withdrawn = {(message.roomid, message.recalled_msgid): message.sent_at for message in recalls}
    group_ids = list(
        ServiceGroup.objects.select_for_update()
        .filter(external_id__in={roomid for roomid, _ in withdrawn})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    rows = (
        GroupMessage.objects.filter(
            group_id__in=group_ids,
            external_id__in={msgid for _, msgid in withdrawn},
            recalled_at__isnull=True,
        )
        .select_related("group")
        .only("id", "external_id", "is_inquiry", "answered_at", "response_due_at", "group__external_id")
    )
    changed: list[GroupMessage] = []
    for row in rows:
        key = (row.group.external_id, row.external_id)
        if key not in withdrawn:
            continue
        row.recalled_at = withdrawn[key]
        if row.is_inquiry and row.answered_at is None:
            # The customer took the question back: nothing waits for a reply.
            row.is_inquiry, row.response_due_at = False, None
        changed.append(row)
    if changed:
        GroupMessage.objects.bulk_update(changed, ["recalled_at", "is_inquiry", "response_due_at"])
        group_health_refresh(group_ids={row.group_id for row in changed}, locked=True)
    return len(changed)


@transaction.atomic
def archive_ingest(messages: list[ArchivedMessage]) -> ArchiveReport:
    """Store a batch of archived messages by the rules of this module (in sequence order)."""
    report = ArchiveReport(read=len(messages))
    texts: list[ArchivedMessage] = []
    recalls: list[ArchivedMessage] = []
    for message in messages:
        if message.action == "recall" or message.msgtype == "revoke":
            if message.roomid and message.recalled_msgid:
                recalls.append(message)
            else:
                report.skipped += 1
        elif message.action != "send" or not message.roomid or message.msgtype != "text":
            report.skipped += 1
        elif not _well_formed(message):
            logger.warning("chat archive: message at seq %d skipped (malformed ids or time)", message.seq)
            report.skipped += 1
        elif message.sender.startswith(ROBOT_PREFIX):
            report.skipped += 1
        else:
            texts.append(message)
    held = _ingest_texts(texts, report) if texts else []
    if recalls:
        report.recalled = _recall(recalls)
    if held:
        HeldArchiveMessage.objects.bulk_create(held, batch_size=INSERT_BATCH, ignore_conflicts=True)
    report.held = len(held)
    return report


def archive_pull(*, source: ArchiveSource, limit: int | None = None) -> tuple[ArchiveReport, int]:
    """Read and store the batch after the source's cursor; returns the report and the
    cursor's new sequence number. The cursor moves in the batch's transaction,
    under its row lock, so two pullers of one source take turns."""
    limit = limit or settings.WECOM_ARCHIVE_BATCH
    ArchiveCursor.objects.get_or_create(source=source.name)
    with transaction.atomic():
        cursor = ArchiveCursor.objects.select_for_update().get(source=source.name)
        batch = source.fetch(cursor.seq, limit)
        if not batch:
            return ArchiveReport(), cursor.seq
        report = archive_ingest(batch)
        cursor.seq = max(message.seq for message in batch)
        cursor.save(update_fields=["seq", "updated_at"])
    return report, cursor.seq


@transaction.atomic
def archive_retry_held(*, limit: int | None = None) -> ArchiveReport:
    """Try again the held messages whose room is now a known group, longest held first.

    They are taken out and go through `archive_ingest` again: stored ones are
    gone from the table, the others come back with a new time, so the next
    try starts with the ones not tried yet.
    """
    limit = limit or settings.WECOM_ARCHIVE_BATCH
    rooms = ServiceGroup.objects.active().exclude(external_id="").values("external_id")
    rows = list(
        HeldArchiveMessage.objects.filter(roomid__in=rooms)
        .select_for_update(skip_locked=True)
        .order_by("held_at", "id")[:limit]
    )
    if not rows:
        return ArchiveReport()
    HeldArchiveMessage.objects.filter(pk__in=[row.pk for row in rows]).delete()
    messages = sorted((ArchivedMessage(seq=row.seq, data=row.payload) for row in rows), key=lambda m: m.seq)
    return archive_ingest(messages)


def archive_pull_due() -> dict:
    """The periodic pull: batches after the cursor until the source has no full batch
    left (at most PULL_MAX_BATCHES), then one round of the held messages."""
    source = configured_source()
    if source is None:
        return {"source": "none"}
    total = ArchiveReport()
    seq = 0
    for _ in range(PULL_MAX_BATCHES):
        report, seq = archive_pull(source=source)
        total.add(report)
        if report.read < settings.WECOM_ARCHIVE_BATCH:
            break
    retried = archive_retry_held()
    return {"source": source.name, "seq": seq, **vars(total), "retried": vars(retried)}
