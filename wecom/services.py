"""WeCom callbacks: check, store, hand over (every rule of the inbox lives here).

- A callback is answered only after its signature, its timestamp (within
  WECOM_CALLBACK_MAX_AGE_SECONDS of now: an old one is a replay) and its
  encryption check out; anything else is refused with a 4xx and stores nothing.
- The event is stored as a `CallbackEvent` keyed by a hash of its decrypted
  message: WeCom's retry of a callback stores nothing new.
- WeCom waits 5 s for an answer, so nothing is processed in the request: a
  task is kicked after commit (best-effort) and beat's sweep finds whatever
  the kick missed. Processing claims the row with a lease, so two workers
  never run the handlers of one event at once, and a worker killed mid-way
  leaves a row the sweep takes again after the lease.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from wecom.crypto import CallbackCrypto, CallbackCryptoError
from wecom.events import handlers_for
from wecom.models import CallbackEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
PROCESS_LEASE = timedelta(minutes=5)
MAX_PROCESS_ATTEMPTS = 5
RETRY_BASE_SECONDS = 30
SWEEP_BATCH = 200
_FIELD_MAX = {"event": 64, "change_type": 64}


class CallbackRejected(Exception):
    """Not a callback we accept; `status` is the HTTP answer (4xx)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _crypto() -> CallbackCrypto:
    if not (settings.WECOM_CORP_ID and settings.WECOM_CALLBACK_TOKEN and settings.WECOM_CALLBACK_AES_KEY):
        raise CallbackRejected(404, "WeCom callbacks not configured")
    return CallbackCrypto(
        token=settings.WECOM_CALLBACK_TOKEN,
        encoding_aes_key=settings.WECOM_CALLBACK_AES_KEY,
        receive_id=settings.WECOM_CORP_ID,
    )


def _signed_params(params) -> tuple[str, str, str]:
    values = tuple(str(params.get(name) or "") for name in ("msg_signature", "timestamp", "nonce"))
    if not all(values):
        raise CallbackRejected(400, "msg_signature, timestamp and nonce are required")
    timestamp = values[1]
    if not timestamp.isdigit():
        raise CallbackRejected(400, "timestamp is not a number")
    if abs(time.time() - int(timestamp)) > settings.WECOM_CALLBACK_MAX_AGE_SECONDS:
        raise CallbackRejected(400, "timestamp outside the accepted window")
    return values


def _parse_xml(text: str | bytes) -> Element:
    try:
        return fromstring(text, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise CallbackRejected(400, "broken XML") from None


def callback_verify_url(params) -> str:
    """WeCom's GET check of the URL: the decrypted echostr, which the view echoes."""
    crypto = _crypto()
    signature, timestamp, nonce = _signed_params(params)
    echostr = str(params.get("echostr") or "")
    if not echostr:
        raise CallbackRejected(400, "echostr is required")
    try:
        return crypto.verify_and_decrypt(signature, timestamp, nonce, echostr)
    except CallbackCryptoError as exc:
        raise CallbackRejected(403, f"refused: {exc}") from None


def message_fields(root: Element) -> dict:
    """A WeCom event's XML as a dict: text per field, a list for a field of <Item>s."""
    fields: dict = {}
    for child in root:
        items = list(child)
        fields[child.tag] = [(item.text or "") for item in items] if items else (child.text or "").strip()
    return fields


@dataclass(frozen=True)
class Received:
    event: CallbackEvent
    created: bool


def callback_receive(params, body: bytes) -> Received:
    """Check and store one POSTed event; kick its processing after commit when it is new."""
    crypto = _crypto()
    signature, timestamp, nonce = _signed_params(params)
    if len(body) > MAX_BODY_BYTES:
        raise CallbackRejected(413, "body too large")
    encrypted = _parse_xml(body).findtext("Encrypt") or ""
    if not encrypted:
        raise CallbackRejected(400, "no Encrypt element")
    try:
        message = crypto.verify_and_decrypt(signature, timestamp, nonce, encrypted.strip())
    except CallbackCryptoError as exc:
        raise CallbackRejected(403, f"refused: {exc}") from None
    fields = message_fields(_parse_xml(message.encode()))
    event_name = str(fields.get("Event") or fields.get("MsgType") or "")
    if not event_name:
        raise CallbackRejected(400, "no Event in the message")
    dedupe_key = hashlib.sha256(message.encode()).hexdigest()
    with transaction.atomic():
        try:
            # A savepoint: a concurrent retry of the same callback loses quietly.
            with transaction.atomic():
                event = CallbackEvent.objects.create(
                    dedupe_key=dedupe_key,
                    event=event_name[: _FIELD_MAX["event"]],
                    change_type=str(fields.get("ChangeType") or "")[: _FIELD_MAX["change_type"]],
                    payload=fields,
                )
        except IntegrityError:
            return Received(event=CallbackEvent.objects.get(dedupe_key=dedupe_key), created=False)
        transaction.on_commit(lambda: kick_processing(event.pk))
    logger.info("WeCom callback %s stored as event %s", event, event.pk)
    return Received(event=event, created=True)


def _publish(event_id: int) -> None:
    from core.broker import publish_once
    from wecom.tasks import process_callback_event

    publish_once(process_callback_event, event_id)


def kick_processing(event_id: int) -> None:
    """Ask a worker to process the event now; never fails (the sweep finds it anyway)."""
    try:
        _publish(event_id)
    except Exception as exc:
        logger.warning(
            "Could not kick WeCom event %s (%s); the periodic sweep will process it",
            event_id,
            type(exc).__name__,
        )


# --- processing ------------------------------------------------------------------------


def _claim(event_id: int) -> CallbackEvent | None:
    now = timezone.now()
    claimed = (
        CallbackEvent.objects.due(now)
        .filter(pk=event_id)
        .update(status=CallbackEvent.Status.PROCESSING, lease_expires_at=now + PROCESS_LEASE)
    )
    return CallbackEvent.objects.filter(pk=event_id).first() if claimed else None


def callback_event_process(*, event_id: int) -> str | None:
    """Run the registered handlers of one event; returns its new status, None if not ours to take.

    Without a handler the event is IGNORED. A handler that raises sends the
    event back to PENDING after a growing delay, FAILED after
    MAX_PROCESS_ATTEMPTS tries; the error's class (not its text, which may
    carry a customer's data) goes to the log.
    """
    event = _claim(event_id)
    if event is None:
        return None
    handlers = handlers_for(event.event)
    fields: dict = {"lease_expires_at": None}
    if not handlers:
        logger.info("WeCom event %s (%s) has no handler: ignored", event.pk, event)
        fields.update(status=CallbackEvent.Status.IGNORED, processed_at=timezone.now())
    else:
        try:
            for handler in handlers:
                handler(event)
        except Exception as exc:
            attempts = event.attempts + 1
            failed = attempts >= MAX_PROCESS_ATTEMPTS
            delay = RETRY_BASE_SECONDS * 2 ** (attempts - 1)
            fields.update(
                attempts=attempts,
                last_error=f"{type(exc).__name__}: {exc}"[:200],
                status=CallbackEvent.Status.FAILED if failed else CallbackEvent.Status.PENDING,
                next_attempt_at=timezone.now() + timedelta(seconds=delay + random.uniform(0, delay / 10)),
            )
            logger.warning(
                "WeCom event %s (%s) failed in a handler (%s), try %s%s",
                event.pk,
                event,
                type(exc).__name__,
                attempts,
                ": given up" if failed else "",
            )
            from wecom.status import mark_error

            mark_error("callback", f"event {event.pk} ({event}): {type(exc).__name__}")
        else:
            fields.update(status=CallbackEvent.Status.DONE, processed_at=timezone.now(), last_error="")
    CallbackEvent.objects.filter(pk=event.pk, status=CallbackEvent.Status.PROCESSING).update(**fields)
    return fields["status"]


def callback_events_process_due(*, limit: int = SWEEP_BATCH) -> int:
    """Process what the kicks missed: pending events that are due, and leases that ran out."""
    ids = list(CallbackEvent.objects.due().order_by("received_at", "id").values_list("pk", flat=True)[:limit])
    return sum(1 for event_id in ids if callback_event_process(event_id=event_id) is not None)


@transaction.atomic
def callback_events_retry_now(*, events) -> int:
    """Put failed or ignored events back to be processed at once (after a fix, or a handler added)."""
    updated = events.filter(status__in=[CallbackEvent.Status.FAILED, CallbackEvent.Status.IGNORED]).update(
        status=CallbackEvent.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    return updated
