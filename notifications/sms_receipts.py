"""SMS delivery receipts: what the provider says became of each message.

The providers push receipts in batches to /notifications/sms/receipts/<provider>/
(Aliyun's SmsReport, Tencent's status callback, or the generic gateway's own
format). A receipt finds its row by the provider's message id (BizId,
SerialNo), or else by the dedupe key the row was sent with (Aliyun's OutId),
which also covers a receipt that arrives before the worker has recorded the id.

Rules:
- a receipt turns the row's delivery "delivered" or "failed"; "failed" is
  final (fallbacks read it and act), nothing turns it back;
- the report with the later report time wins: a repeated receipt, or an
  older one arriving after a newer one, changes nothing;
- a receipt for an unknown message is ignored with a log line (its phone
  masked), so a provider never retries it forever;
- a "delivered" receipt for a row still waiting for a retry, or still
  claimed by a worker that may have died, marks it sent, so an SMS that did
  go out despite a timeout or a kill is not sent twice.
A batch is applied with a fixed number of queries: one locking read, one bulk update.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.phones import mask_phone
from notifications.models import Notification
from notifications.sms_kinds import SmsProvider

logger = logging.getLogger(__name__)

_ID_MAX_LENGTH = Notification._meta.get_field("provider_message_id").max_length
_ERROR_MAX_LENGTH = Notification._meta.get_field("delivery_error").max_length
_UPDATED_FIELDS = [
    "delivery_status",
    "delivery_error",
    "delivered_at",
    "delivery_reported_at",
    "provider",
    "provider_message_id",
    "status",
    "sent_at",
    "claim_token",
    "lease_expires_at",
]


class MalformedReceipts(ValueError):
    """The body is not a list of receipts in the provider's format."""


@dataclass(frozen=True)
class SmsReceipt:
    message_id: str
    out_id: str
    delivered: bool
    error_code: str
    reported_at: datetime | None
    # Only ever logged masked.
    phone: str = ""


@dataclass
class ReceiptReport:
    applied: int = 0
    unchanged: int = 0
    unknown: int = 0


def _text(item: dict, name: str) -> str:
    value = item.get(name)
    return "" if value is None else str(value).strip()


def _report_time(value: str) -> datetime | None:
    """ "2017-01-01 00:00:00" in the site's time zone (China time), or an ISO time with an offset."""
    if not value:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is None:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _items(payload) -> list[dict]:
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise MalformedReceipts("a JSON array of receipt objects is expected")
    return payload


def parse_aliyun(payload) -> list[SmsReceipt]:
    """Aliyun SmsReport: [{phone_number, success, biz_id, out_id, send_time, report_time,
    err_code, err_msg, sms_size}]."""
    receipts = []
    for item in _items(payload):
        success = item.get("success")
        if isinstance(success, str):
            success = {"true": True, "false": False}.get(success.strip().lower())
        if not isinstance(success, bool) or not (_text(item, "biz_id") or _text(item, "out_id")):
            raise MalformedReceipts("an Aliyun receipt needs success and biz_id or out_id")
        receipts.append(
            SmsReceipt(
                message_id=_text(item, "biz_id")[:_ID_MAX_LENGTH],
                out_id=_text(item, "out_id"),
                delivered=success,
                error_code=_text(item, "err_code"),
                reported_at=_report_time(_text(item, "report_time")),
                phone=_text(item, "phone_number"),
            )
        )
    return receipts


def parse_tencent(payload) -> list[SmsReceipt]:
    """Status callback: [{user_receive_time, nationcode, mobile, report_status, errmsg, description, sid}]."""
    receipts = []
    for item in _items(payload):
        status = _text(item, "report_status").upper()
        if status not in ("SUCCESS", "FAIL") or not _text(item, "sid"):
            raise MalformedReceipts("a Tencent receipt needs sid and report_status SUCCESS or FAIL")
        receipts.append(
            SmsReceipt(
                message_id=_text(item, "sid")[:_ID_MAX_LENGTH],
                out_id="",
                delivered=status == "SUCCESS",
                error_code=_text(item, "errmsg"),
                reported_at=_report_time(_text(item, "user_receive_time")),
                phone=_text(item, "mobile"),
            )
        )
    return receipts


def parse_gateway(payload) -> list[SmsReceipt]:
    """The generic gateway: [{message_id, out_id, status: delivered|failed, error,
    report_time (ISO 8601)}]."""
    receipts = []
    for item in _items(payload):
        status = _text(item, "status").lower()
        if status not in ("delivered", "failed") or not (_text(item, "message_id") or _text(item, "out_id")):
            raise MalformedReceipts(
                "a gateway receipt needs status delivered or failed and message_id or out_id"
            )
        receipts.append(
            SmsReceipt(
                message_id=_text(item, "message_id")[:_ID_MAX_LENGTH],
                out_id=_text(item, "out_id"),
                delivered=status == "delivered",
                error_code=_text(item, "error"),
                reported_at=_report_time(_text(item, "report_time")),
                phone=_text(item, "mobile"),
            )
        )
    return receipts


RECEIPT_PARSERS: dict[str, Callable[[object], list[SmsReceipt]]] = {
    SmsProvider.ALIYUN: parse_aliyun,
    SmsProvider.TENCENT: parse_tencent,
    SmsProvider.GATEWAY: parse_gateway,
}


def _supersedes(receipt: SmsReceipt, row: Notification) -> bool:
    if row.delivery_status == Notification.DeliveryStatus.FAILED:
        return False
    if row.delivery_reported_at is None:
        return True
    return receipt.reported_at is not None and receipt.reported_at > row.delivery_reported_at


def _apply(receipt: SmsReceipt, row: Notification, provider: str, now: datetime) -> None:
    row.delivery_reported_at = receipt.reported_at
    row.provider = row.provider or provider
    if not row.provider_message_id and receipt.message_id:
        row.provider_message_id = receipt.message_id
    if receipt.delivered:
        row.delivery_status = Notification.DeliveryStatus.DELIVERED
        row.delivery_error = ""
        row.delivered_at = receipt.reported_at or now
        if row.status in (Notification.Status.PENDING, Notification.Status.SENDING):
            # It went out although the try that sent it timed out, or its worker died
            # before marking it: no second SMS. A worker still holding the claim finds
            # it gone and leaves the row as it is.
            row.status, row.sent_at = Notification.Status.SENT, row.sent_at or now
            row.claim_token = row.lease_expires_at = None
    else:
        row.delivery_status = Notification.DeliveryStatus.FAILED
        row.delivery_error = (receipt.error_code or "FAIL")[:_ERROR_MAX_LENGTH]
        row.delivered_at = None


def sms_receipts_apply(*, provider: str, receipts: Iterable[SmsReceipt]) -> ReceiptReport:
    """Apply a batch of one provider's receipts to their rows (see the module's rules)."""
    receipts = list(receipts)
    report = ReceiptReport()
    if not receipts:
        return report
    message_ids = {r.message_id for r in receipts if r.message_id}
    out_ids = {r.out_id for r in receipts if r.out_id}
    now = timezone.now()
    with transaction.atomic():
        # No filter on the channel here: both terms are selective through their own
        # index, and one on the channel would tempt the planner into scanning every SMS.
        rows = [
            row
            for row in Notification.objects.filter(
                # The empty id excluded in the same terms as the index's condition, so that
                # the planner may use it whatever the number of ids.
                (Q(provider=provider, provider_message_id__in=message_ids) & ~Q(provider_message_id=""))
                | Q(dedupe_key__in=out_ids, provider__in=[provider, ""])
            )
            .select_for_update()
            .order_by("id")
            .only("id", "channel", "dedupe_key", *_UPDATED_FIELDS)
            if row.channel == Notification.Channel.SMS
        ]
        by_message_id = {
            row.provider_message_id: row
            for row in rows
            if row.provider == provider and row.provider_message_id
        }
        by_out_id = {row.dedupe_key: row for row in rows}
        changed: dict[int, Notification] = {}
        # Oldest first, so within one batch too the later report wins.
        for receipt in sorted(
            receipts, key=lambda r: r.reported_at or datetime.min.replace(tzinfo=now.tzinfo)
        ):
            row = by_message_id.get(receipt.message_id or None) or by_out_id.get(receipt.out_id or None)
            if row is None:
                report.unknown += 1
                logger.info(
                    "SMS receipt from %s for an unknown message %s (%s): ignored",
                    provider,
                    receipt.message_id or receipt.out_id,
                    mask_phone(receipt.phone),
                )
                continue
            if not _supersedes(receipt, row):
                report.unchanged += 1
                continue
            _apply(receipt, row, provider, now)
            changed[row.pk] = row
            report.applied += 1
        if changed:
            _write(list(changed.values()))
    return report


def _write(rows: list[Notification]) -> None:
    """One UPDATE for the batch. On PostgreSQL from arrays (unnest): Django's bulk_update
    builds a CASE per field and row in Python, which costs more than the database work."""
    if connection.vendor != "postgresql":
        Notification.objects.bulk_update(rows, _UPDATED_FIELDS, batch_size=500)
        return
    quote = connection.ops.quote_name
    table = quote(Notification._meta.db_table)
    fields = [Notification._meta.get_field(name) for name in _UPDATED_FIELDS]
    types = [
        "timestamptz"
        if isinstance(f, models.DateTimeField)
        else "uuid"
        if isinstance(f, models.UUIDField)
        else "text"
        for f in fields
    ]
    columns = ", ".join(quote(f.column) for f in fields)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{kind}[]" for kind in types)])
    params = [[row.pk for row in rows]] + [[getattr(row, f.attname) for row in rows] for f in fields]
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v(id, {columns}) WHERE {table}.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
