"""The notification outbox: every write to `Notification` goes through here.

Rules (ARCHITECTURE rule 2):
- A notification is written in the caller's transaction and leaves only after
  that transaction commits; `dedupe_key` makes deciding the same message again
  a no-op, so rescans never send twice.
- Delivery claims due rows with a conditional UPDATE (behind
  `select_for_update(skip_locked=True)` where the database has it), sends
  outside any transaction, and marks each row with an UPDATE conditional on the
  claim token, so a worker whose lease ran out cannot overwrite a newer claim.
- A dead broker never fails a business write: the kick after commit is
  best-effort and beat's periodic scan finds the row anyway.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import User
from core.transactions import on_commit_once
from notifications.backends import ChannelNotConfigured, DeliveryError, SmsSubmission, get_backend
from notifications.models import Notification
from notifications.quiet_hours import quiet_hours_end
from notifications.selectors import DIGEST_KEY_PREFIX, inbox_for
from notifications.sms_kinds import SmsKind
from wecom.client import app_messages_configured

logger = logging.getLogger(__name__)

ENQUEUE_BATCH_SIZE = 1000
MAX_BATCHES_PER_RUN = 10
# Never wait longer than a day between two tries, whatever the settings say.
MAX_RETRY_DELAY_SECONDS = 24 * 3600
LAST_ERROR_MAX_LENGTH = 200
_CHANNELS = frozenset(Notification.Channel.values)
_SUBJECT_MAX_LENGTH = Notification._meta.get_field("subject").max_length
_LINK_MAX_LENGTH = Notification._meta.get_field("link").max_length
_KEY_MAX_LENGTH = Notification._meta.get_field("dedupe_key").max_length
_ADDRESS_MAX_LENGTH = Notification._meta.get_field("address").max_length
_LABEL_MAX_LENGTH = Notification._meta.get_field("recipient_label").max_length
_SMS_KINDS = frozenset(SmsKind.values)
_DELIVERY_ERROR_MAX_LENGTH = Notification._meta.get_field("delivery_error").max_length


@dataclass(frozen=True)
class NotificationDraft:
    """One row for `notifications_enqueue_many`; the fields of `notification_enqueue`."""

    dedupe_key: str
    subject: str
    body: str = ""
    channel: str = Notification.Channel.IN_APP
    recipient_id: int | None = None
    address: str = ""
    recipient_label: str = ""
    link: str = ""
    send_at: datetime | None = None
    template_kind: str = ""
    template_params: dict | None = None
    quiet: bool = False


def _build(
    *,
    dedupe_key: str,
    subject: str,
    body: str = "",
    channel: str = Notification.Channel.IN_APP,
    recipient=None,
    recipient_id: int | None = None,
    address: str = "",
    recipient_label: str = "",
    link: str = "",
    send_at: datetime | None = None,
    template_kind: str = "",
    template_params: dict | None = None,
    quiet: bool = False,
) -> Notification:
    """Validate one draft and build its unsaved row.

    Bad drafts are programming errors (ValueError), raised before anything is
    written; a subject too long for the column is shortened rather than failing
    the business write that caused it. An SMS names its template kind and
    parameters (values become text); a `quiet` SMS (an advance notice) due in
    SMS_QUIET_HOURS is held until the window ends.
    """
    if recipient is not None:
        recipient_id = recipient.pk
    # Lazy translations become plain text here, in the language active now.
    dedupe_key, subject, body, link, address, recipient_label = (
        str(value) if value else "" for value in (dedupe_key, subject, body, link, address, recipient_label)
    )
    if not dedupe_key or len(dedupe_key) > _KEY_MAX_LENGTH:
        raise ValueError(f"dedupe_key must be 1 to {_KEY_MAX_LENGTH} characters")
    if not subject:
        raise ValueError("a notification needs a subject")
    if channel not in _CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if channel == Notification.Channel.IN_APP and recipient_id is None:
        raise ValueError("an in-app notification needs a recipient user")
    if recipient_id is None and not address and channel != Notification.Channel.WECOM:
        raise ValueError("a notification needs a recipient user or an address")
    if send_at is not None and timezone.is_naive(send_at):
        raise ValueError("send_at must be an aware datetime")
    if len(link) > _LINK_MAX_LENGTH or len(address) > _ADDRESS_MAX_LENGTH:
        raise ValueError("link or address too long")
    if len(subject) > _SUBJECT_MAX_LENGTH:
        subject = subject[: _SUBJECT_MAX_LENGTH - 1] + "…"
    template_kind = str(template_kind or "")
    if template_kind and template_kind not in _SMS_KINDS:
        raise ValueError(f"unknown SMS template kind {template_kind!r}")
    if template_params is not None and not isinstance(template_params, Mapping):
        raise ValueError("template_params must be a dict")
    params = {str(key): "" if value is None else str(value) for key, value in (template_params or {}).items()}
    next_attempt_at = send_at or timezone.now()
    if quiet and channel == Notification.Channel.SMS:
        next_attempt_at = quiet_hours_end(next_attempt_at)
    return Notification(
        dedupe_key=dedupe_key,
        subject=subject,
        body=body,
        channel=channel,
        recipient_id=recipient_id,
        address=address,
        recipient_label=recipient_label[:_LABEL_MAX_LENGTH],
        link=link,
        next_attempt_at=next_attempt_at,
        status=Notification.Status.PENDING,
        template_kind=template_kind,
        template_params=params,
        quiet=bool(quiet),
    )


WECOM_TWIN_SUFFIX = ":wecomapp"


def _twin_key(dedupe_key: str) -> str:
    key = f"{dedupe_key}{WECOM_TWIN_SUFFIX}"
    if len(key) <= _KEY_MAX_LENGTH:
        return key
    # Still unique and stable for the same original key.
    digest = hashlib.sha1(dedupe_key.encode()).hexdigest()
    return f"{dedupe_key[: _KEY_MAX_LENGTH - len(WECOM_TWIN_SUFFIX) - 41]}~{digest}{WECOM_TWIN_SUFFIX}"


def with_wecom_reminders(drafts: Iterable[NotificationDraft | Mapping]) -> list[dict]:
    """The routing rule of reminders to users (near-overdue, overdue, urges, escalations, visits ...):
    each in-app reminder to a user who has a WeCom userid also goes to their WeCom
    as an app message, when WeCom app messages are configured; the in-app row stays
    as the inbox record. Otherwise the drafts are left as they are.

    One query for the recipients' userids, whatever the number of drafts; none
    when WeCom is not configured.
    """
    rows = [asdict(row) if isinstance(row, NotificationDraft) else dict(row) for row in drafts]
    if not app_messages_configured():
        return rows
    reminders = [
        row
        for row in rows
        if row.get("channel", Notification.Channel.IN_APP) == Notification.Channel.IN_APP
        and row.get("recipient_id") is not None
    ]
    if not reminders:
        return rows
    on_wecom = set(
        User.objects.filter(pk__in={row["recipient_id"] for row in reminders}, is_active=True)
        .exclude(wecom_userid="")
        .values_list("pk", flat=True)
    )
    twins = [
        {
            **row,
            "channel": Notification.Channel.WECOM_APP,
            "dedupe_key": _twin_key(str(row["dedupe_key"])),
        }
        for row in reminders
        if row["recipient_id"] in on_wecom
    ]
    return rows + twins


def _publish_kick() -> None:
    from core.broker import publish_once
    from notifications.tasks import deliver_due_notifications

    publish_once(deliver_due_notifications)


def kick_delivery() -> None:
    """Ask a worker to deliver now; never fails.

    The row is already committed, so a broker that is down only delays it until
    beat's next scan. The warning names the failure, never a recipient.
    """
    try:
        _publish_kick()
    except Exception as exc:
        logger.warning(
            "Could not kick notification delivery (%s); due rows wait for the periodic scan",
            type(exc).__name__,
        )


def _kick_after_commit_if_due(rows: Iterable[Notification]) -> None:
    now = timezone.now()
    if any(row.next_attempt_at <= now for row in rows):
        on_commit_once(kick_delivery)


@transaction.atomic
def notification_enqueue(
    *,
    dedupe_key: str,
    subject: str,
    body: str = "",
    channel: str = Notification.Channel.IN_APP,
    recipient=None,
    address: str = "",
    recipient_label: str = "",
    link: str = "",
    send_at: datetime | None = None,
    template_kind: str = "",
    template_params: dict | None = None,
    quiet: bool = False,
    reminder: bool = False,
) -> Notification | None:
    """Write one outbox row in the caller's transaction; None if `dedupe_key` exists.

    The insert runs in a savepoint (get_or_create), so a concurrent writer of
    the same key never surfaces as an IntegrityError nor breaks the caller's
    transaction. Delivery is kicked after commit when the row is due now.
    `reminder=True` applies the routing rule of reminders (`with_wecom_reminders`).
    """
    draft = {
        "dedupe_key": dedupe_key,
        "subject": subject,
        "body": body,
        "channel": channel,
        "recipient_id": recipient.pk if recipient is not None else None,
        "address": address,
        "recipient_label": recipient_label,
        "link": link,
        "send_at": send_at,
        "template_kind": template_kind,
        "template_params": template_params,
        "quiet": quiet,
    }
    notification = _get_or_create(_build(**draft))
    if reminder and notification is not None:
        _main, *twins = with_wecom_reminders([draft])
        for twin in twins:
            _get_or_create(_build(**twin))
    return notification


def _get_or_create(row: Notification) -> Notification | None:
    defaults = {
        name: getattr(row, name)
        for name in (
            "subject",
            "body",
            "channel",
            "recipient_id",
            "address",
            "recipient_label",
            "link",
            "next_attempt_at",
            "template_kind",
            "template_params",
            "quiet",
        )
    }
    notification, created = Notification.objects.get_or_create(dedupe_key=row.dedupe_key, defaults=defaults)
    if not created:
        return None
    _kick_after_commit_if_due([notification])
    return notification


@transaction.atomic
def notifications_enqueue_many(rows: Iterable[NotificationDraft | Mapping], *, reminder: bool = False) -> int:
    """Write many outbox rows set-based; returns how many were new.

    Rows whose `dedupe_key` already exists (or repeats within `rows`) are left
    out; the insert uses ON CONFLICT DO NOTHING so a concurrent writer of the
    same key is ignored, not an error. A few queries per 1,000 rows.
    `reminder=True` applies the routing rule of reminders (`with_wecom_reminders`)
    to the rows that were new: a reminder decided again gets no late twin.
    """
    drafts = [asdict(row) if isinstance(row, NotificationDraft) else dict(row) for row in rows]
    new_rows = _insert_new(drafts)
    if reminder and new_rows:
        fresh = {row.dedupe_key for row in new_rows}
        written = [draft for draft in drafts if str(draft["dedupe_key"]) in fresh]
        new_rows += _insert_new(with_wecom_reminders(written)[len(written) :])
    _kick_after_commit_if_due(new_rows)
    return len(new_rows)


def _insert_new(drafts: list[dict]) -> list[Notification]:
    built: dict[str, Notification] = {}
    for draft in drafts:
        row = _build(**draft)
        built.setdefault(row.dedupe_key, row)
    pending = list(built.values())
    new_rows: list[Notification] = []
    for start in range(0, len(pending), ENQUEUE_BATCH_SIZE):
        batch = pending[start : start + ENQUEUE_BATCH_SIZE]
        existing = set(
            Notification.objects.filter(dedupe_key__in=[row.dedupe_key for row in batch]).values_list(
                "dedupe_key", flat=True
            )
        )
        fresh = [row for row in batch if row.dedupe_key not in existing]
        if fresh:
            Notification.objects.bulk_create(fresh, ignore_conflicts=True)
            new_rows.extend(fresh)
    return new_rows


# The columns a set-based enqueue takes from its SELECT; all others come from the prototype.
_SELECTED_COLUMNS = ("dedupe_key", "address", "recipient_label")


@dataclass(frozen=True)
class OutboxInsert:
    """An INSERT … SELECT of outbox rows, built but not run (`notifications_insert_select`)."""

    sql: str
    params: list
    prototype: Notification

    def written(self, count: int) -> None:
        """Tell the outbox how many rows the statement wrote: delivery starts after commit."""
        if count:
            _kick_after_commit_if_due([self.prototype])


def notifications_insert_select(
    *, prototype: NotificationDraft, select: str, params: list, with_ids: bool = False
) -> OutboxInsert:
    """The statement `notifications_enqueue_select` runs, for a caller that runs it inside a
    larger one (a PostgreSQL data-modifying CTE, which may add RETURNING); the caller
    reports the rows written through `OutboxInsert.written`. `with_ids`: `select` yields
    each row's `id` as well (taken from the table's sequence), so the caller knows it
    without joining the rows returned."""
    row = _build(**asdict(prototype))
    connection = transaction.get_connection()
    selected = ("id", *_SELECTED_COLUMNS) if with_ids else _SELECTED_COLUMNS
    fields = [
        field
        for field in Notification._meta.concrete_fields
        if not field.primary_key and field.column not in selected
    ]
    values = [field.get_db_prep_save(field.pre_save(row, add=True), connection) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in (*selected, *(field.column for field in fields)))
    picked = ", ".join(f"s.{quote(column)}" for column in selected)
    constants = ", ".join("%s" for _value in values)
    sql = (
        f"INSERT INTO {quote(Notification._meta.db_table)} ({columns}) "
        f"SELECT {picked}, {constants} FROM ({select}) s WHERE s.{quote('dedupe_key')} IS NOT NULL "
        f"ON CONFLICT ({quote('dedupe_key')}) DO NOTHING"
    )
    return OutboxInsert(sql, [*values, *params], row)


def notifications_enqueue_select(*, prototype: NotificationDraft, select: str, params: list) -> int:
    """Write outbox rows set-based, in one INSERT … SELECT: `select` (SQL with `params`)
    yields `dedupe_key`, `address` and `recipient_label` per row; every other column is
    the `prototype` draft's, validated once as `notifications_enqueue_many` would.
    Keys already there are left out (ON CONFLICT DO NOTHING on `dedupe_key`). Portable
    SQL (PostgreSQL, SQLite). Returns how many rows were new."""
    insert = notifications_insert_select(prototype=prototype, select=select, params=params)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(insert.sql, insert.params)
        written = max(cursor.rowcount, 0)
    insert.written(written)
    return written


@transaction.atomic
def notification_mark_read(*, notification: Notification, user) -> bool:
    """Mark one of the user's own in-app messages read; False if it already was.

    Someone else's message is refused (callers look it up through the user's
    inbox first, so a page answers 404 before getting here).
    """
    if notification.recipient_id != user.pk or notification.channel != Notification.Channel.IN_APP:
        raise PermissionDenied("not this user's in-app notification")
    now = timezone.now()
    updated = Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
    if updated:
        notification.read_at = now
    return bool(updated)


@transaction.atomic
def notifications_mark_group_read(*, notification: Notification, user) -> int:
    """Mark read the user's unread messages about the same thing as `notification` (the
    inbox's group: the same link; a message without a link stands alone); returns how many."""
    if notification.recipient_id != user.pk or notification.channel != Notification.Channel.IN_APP:
        raise PermissionDenied("not this user's in-app notification")
    group = inbox_for(user).unread()
    if notification.link and not notification.dedupe_key.startswith(DIGEST_KEY_PREFIX):
        group = group.filter(link=notification.link).exclude(dedupe_key__startswith=DIGEST_KEY_PREFIX)
    else:
        group = group.filter(pk=notification.pk)
    return group.update(read_at=timezone.now())


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark every unread message in the user's inbox read (one UPDATE); returns how many."""
    return inbox_for(user).unread().update(read_at=timezone.now())


@transaction.atomic
def notifications_retry_now(*, notifications: QuerySet) -> int:
    """Put failed, skipped or backing-off rows back to be sent at once, with a fresh budget of tries.

    Sent rows, withdrawn rows (they must never go out), rows scheduled for
    later that never failed, and rows a worker holds under a live lease are
    left alone. Advance-notice SMS (quiet) wait
    for the end of quiet hours when retried inside them.
    """
    now = timezone.now()
    eligible = notifications.exclude(status=Notification.Status.WITHDRAWN).filter(
        Q(status__in=[Notification.Status.FAILED, Notification.Status.SKIPPED])
        | Q(status=Notification.Status.PENDING, attempts__gt=0)
        | Q(status=Notification.Status.SENDING, lease_expires_at__lt=now)
    )
    reset = {
        "status": Notification.Status.PENDING,
        "attempts": 0,
        "claim_token": None,
        "lease_expires_at": None,
        "send_started_at": None,
        "delivery_status": Notification.DeliveryStatus.NONE,
        "delivery_error": "",
    }
    held = Q(quiet=True, channel=Notification.Channel.SMS)
    updated = eligible.exclude(held).update(next_attempt_at=now, **reset)
    updated += eligible.filter(held).update(next_attempt_at=quiet_hours_end(now), **reset)
    if updated:
        on_commit_once(kick_delivery)
    return updated


@transaction.atomic
def notifications_withdraw(*, notifications: QuerySet) -> int:
    """Withdraw rows not yet sent (the message must not go out any more, e.g. a
    start-of-outage notice after restoration): they become WITHDRAWN, which is
    final — no worker claims it and "retry now" leaves it alone. Pending rows,
    rows a worker claimed but has not started sending, and rows whose sender's
    lease ran out are withdrawn; a row whose network call has started under a
    live lease is beyond recall. Returns how many."""
    return _withdraw(notifications)


def _withdraw(notifications: QuerySet) -> int:
    return notifications.filter(withdrawable_q()).update(
        status=Notification.Status.WITHDRAWN,
        last_error="",
        claim_token=None,
        lease_expires_at=None,
        send_started_at=None,
    )


# One statement for a whole ingest batch (500 messages), within SQLite's 999 variables.
SETTLE_PREFIX_BATCH = 900


def notifications_settle(*, dedupe_prefixes: Iterable[str]) -> int:
    """What these messages asked someone to do is done (an inquiry answered): nobody
    needs them any more. Every recipient's unread in-app message under one of the
    `dedupe_prefixes` is marked read, and every row not yet sent on another channel
    (a reminder's WeCom twin) is withdrawn. Each prefix must end with its separator
    (`group-message:12:`), so that it never names a longer id. On PostgreSQL each
    prefix is an index range (migration 0007). Two UPDATEs per 900 prefixes, in the
    caller's transaction (each is whole on its own: no savepoint of its own, since
    every ingest pays for it). Returns how many rows changed."""
    prefixes = sorted({prefix for prefix in dedupe_prefixes if prefix})
    changed = 0
    now = timezone.now()
    for start in range(0, len(prefixes), SETTLE_PREFIX_BATCH):
        named = Q()
        for prefix in prefixes[start : start + SETTLE_PREFIX_BATCH]:
            named |= Q(dedupe_key__startswith=prefix)
        rows = Notification.objects.filter(named)
        changed += rows.filter(channel=Notification.Channel.IN_APP, read_at__isnull=True).update(read_at=now)
        changed += _withdraw(rows.exclude(channel=Notification.Channel.IN_APP))
    return changed


def withdrawable_q() -> Q:
    """Rows that may still be withdrawn: pending, claimed but not started, or whose sender's lease ran out."""
    sending = Q(status=Notification.Status.SENDING)
    return Q(status=Notification.Status.PENDING) | (
        sending & (Q(send_started_at__isnull=True) | Q(lease_expires_at__lt=timezone.now()))
    )


# --- Delivery ---------------------------------------------------------------


@dataclass
class Claim:
    token: uuid.UUID
    lease_expires_at: datetime
    rows: list[Notification] = field(default_factory=list)


@dataclass
class DeliveryReport:
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    released: int = 0
    lost: int = 0
    more_due: bool = False

    def count(self, outcome: str | None) -> None:
        attribute = {
            Notification.Status.SENT: "sent",
            Notification.Status.PENDING: "retried",
            Notification.Status.FAILED: "failed",
            Notification.Status.SKIPPED: "skipped",
            None: "lost",
        }[outcome]
        setattr(self, attribute, getattr(self, attribute) + 1)


def notifications_claim_due(*, batch_size: int | None = None) -> Claim:
    """Claim up to `batch_size` due rows for this worker alone.

    Due rows are locked with `FOR UPDATE SKIP LOCKED` (so concurrent workers
    take different rows on PostgreSQL) and switched to SENDING with a fresh
    claim token and lease by an UPDATE that re-checks they are still due
    (which is what keeps two workers apart on SQLite, where the lock is a
    no-op). The claimed rows are read back by their token.
    """
    batch_size = batch_size or settings.NOTIFICATIONS_BATCH_SIZE
    now = timezone.now()
    claim = Claim(
        token=uuid.uuid4(),
        lease_expires_at=now + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS),
    )
    with transaction.atomic():
        ids = list(
            Notification.objects.due(now)
            .order_by("next_attempt_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return claim
        claimed = (
            Notification.objects.due(now)
            .filter(id__in=ids)
            .update(
                status=Notification.Status.SENDING,
                claim_token=claim.token,
                lease_expires_at=claim.lease_expires_at,
                send_started_at=None,
            )
        )
    if claimed:
        claim.rows = list(
            Notification.objects.filter(claim_token=claim.token)
            .select_related("recipient")
            .order_by("next_attempt_at", "id")
        )
    return claim


def retry_delay(attempts_made: int) -> timedelta:
    """Exponential backoff with jitter: base × 2^(tries before this one), plus up to 10 %."""
    delay = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * 2 ** max(attempts_made - 1, 0)
    delay = min(delay, MAX_RETRY_DELAY_SECONDS)
    return timedelta(seconds=delay + random.uniform(0, delay / 10))


def _mark(notification: Notification, claim_token: uuid.UUID, **fields) -> bool:
    """Apply the outcome only if this worker still holds the claim."""
    return bool(
        Notification.objects.filter(
            pk=notification.pk, claim_token=claim_token, status=Notification.Status.SENDING
        ).update(claim_token=None, lease_expires_at=None, **fields)
    )


def notification_deliver(*, notification: Notification, claim_token: uuid.UUID) -> str | None:
    """Send one claimed row through its channel and record the outcome.

    SENT on success; SKIPPED when the channel is not configured; on a transient
    failure back to PENDING after a growing delay, until
    NOTIFICATIONS_MAX_ATTEMPTS tries make it FAILED; FAILED at once on a
    permanent failure. Returns the new status, or None when the claim was lost
    to another worker (nothing is written then).

    Deliberately outside `transaction.atomic`: no transaction (and on SQLite
    no write lock) is held while the network call runs; the outcome is one
    conditional UPDATE, atomic on its own. Just before the call the row is
    marked started, again conditional on the claim: a row withdrawn since the
    claim is not sent.
    """
    started = Notification.objects.filter(
        pk=notification.pk, claim_token=claim_token, status=Notification.Status.SENDING
    ).update(send_started_at=timezone.now())
    if not started:
        logger.info("Notification %s: withdrawn or claimed by another worker before sending", notification.pk)
        return None
    try:
        outcome = get_backend(notification.channel).send(notification)
    except ChannelNotConfigured as exc:
        status, fields = Notification.Status.SKIPPED, {"last_error": exc.reason[:LAST_ERROR_MAX_LENGTH]}
    except DeliveryError as exc:
        status, fields = _failure(notification, exc.reason, transient=exc.transient, code=exc.code)
    except Exception as exc:
        # A bug in a backend: keep the row (it may be fixed), never log its content.
        status, fields = _failure(notification, f"unexpected {type(exc).__name__}", transient=True)
    else:
        status, fields = Notification.Status.SENT, {"sent_at": timezone.now(), "last_error": ""}
        if isinstance(outcome, SmsSubmission):
            fields.update(_submitted(outcome))
    if not _mark(notification, claim_token, status=status, **fields):
        logger.info("Notification %s: claim lost before marking it %s", notification.pk, status)
        return None
    if status in (Notification.Status.PENDING, Notification.Status.FAILED):
        logger.warning(
            "Notification %s (%s) not sent, try %s: %s -> %s",
            notification.pk,
            notification.channel,
            fields["attempts"],
            fields["last_error"],
            status,
        )
    return status


def _submitted(submission: SmsSubmission) -> dict:
    """An SMS the provider accepted is "submitted", unless its receipt already came in
    (a fast carrier can report before the worker marks the row)."""
    return {
        "provider": submission.provider,
        "provider_message_id": submission.message_id,
        "delivery_status": Case(
            When(delivery_status="", then=Value(Notification.DeliveryStatus.SUBMITTED)),
            default=F("delivery_status"),
        ),
    }


def _failure(notification: Notification, reason: str, *, transient: bool, code: str = "") -> tuple[str, dict]:
    """Back off and retry a transient failure, give up on a permanent one or after the last try.

    A quiet SMS (an advance notice) never retries into quiet hours; an SMS
    given up on reads delivery "failed" with the reason's code, which is what
    fallbacks look for.
    """
    attempts = notification.attempts + 1
    fields = {"attempts": attempts, "last_error": reason[:LAST_ERROR_MAX_LENGTH]}
    if not transient or attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        if notification.channel == Notification.Channel.SMS:
            # Unless a receipt already proved an earlier try delivered it.
            delivered = Q(delivery_status=Notification.DeliveryStatus.DELIVERED)
            fields["provider"] = settings.SMS_PROVIDER
            fields["delivery_status"] = Case(
                When(delivered, then=F("delivery_status")), default=Value(Notification.DeliveryStatus.FAILED)
            )
            fields["delivery_error"] = Case(
                When(delivered, then=F("delivery_error")),
                default=Value((code or reason)[:_DELIVERY_ERROR_MAX_LENGTH]),
            )
        return Notification.Status.FAILED, fields
    next_attempt_at = timezone.now() + retry_delay(attempts)
    if notification.quiet and notification.channel == Notification.Channel.SMS:
        next_attempt_at = quiet_hours_end(next_attempt_at)
    fields["next_attempt_at"] = next_attempt_at
    return Notification.Status.PENDING, fields


def _release(claim: Claim, rows: list[Notification]) -> int:
    """Give claimed but unsent rows back at once instead of waiting for their lease."""
    return Notification.objects.filter(
        claim_token=claim.token, status=Notification.Status.SENDING, id__in=[row.pk for row in rows]
    ).update(
        status=Notification.Status.PENDING, claim_token=None, lease_expires_at=None, send_started_at=None
    )


def notifications_deliver_due(
    *,
    max_batches: int = MAX_BATCHES_PER_RUN,
    batch_size: int | None = None,
    time_budget_seconds: float | None = None,
) -> DeliveryReport:
    """Claim and deliver due rows batch after batch, until none is due or `max_batches` ran.

    In-app rows of a batch are marked SENT by one UPDATE (the row is the
    message); the others are sent one by one. A row is not sent once its lease
    is about to run out or the time budget is spent: the rest of the batch is
    released for the next run, so no row is sent by two workers because one
    of them was slow. `more_due` says the run stopped early with work left.
    """
    batch_size = batch_size or settings.NOTIFICATIONS_BATCH_SIZE
    deadline = time.monotonic() + time_budget_seconds if time_budget_seconds else None
    lease_margin = timedelta(seconds=settings.OUTBOUND_HTTP_TIMEOUT + 5)
    report = DeliveryReport()
    for _ in range(max_batches):
        claim = notifications_claim_due(batch_size=batch_size)
        if not claim.rows:
            return report
        report.batches += 1
        report.claimed += len(claim.rows)
        in_app = [row for row in claim.rows if row.channel == Notification.Channel.IN_APP]
        outbound = [row for row in claim.rows if row.channel != Notification.Channel.IN_APP]
        if in_app:
            report.sent += Notification.objects.filter(
                claim_token=claim.token,
                status=Notification.Status.SENDING,
                id__in=[row.pk for row in in_app],
            ).update(
                status=Notification.Status.SENT,
                sent_at=timezone.now(),
                claim_token=None,
                lease_expires_at=None,
                last_error="",
            )
        for index, row in enumerate(outbound):
            out_of_time = deadline is not None and time.monotonic() >= deadline
            if out_of_time or timezone.now() >= claim.lease_expires_at - lease_margin:
                report.released += _release(claim, outbound[index:])
                report.more_due = True
                return report
            report.count(notification_deliver(notification=row, claim_token=claim.token))
        if len(claim.rows) < batch_size:
            return report
    report.more_due = Notification.objects.due().exists()
    return report
