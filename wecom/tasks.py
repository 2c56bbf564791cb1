"""Celery entry points of the WeCom callback inbox: thin, idempotent, ids in."""

from celery import shared_task

from core.retry import RETRY_TRANSIENT
from wecom.services import callback_event_process, callback_events_process_due


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=60, time_limit=90)
def process_callback_event(event_id: int) -> str | None:
    """Process one stored callback event; a second run finds it taken or done and does nothing."""
    return callback_event_process(event_id=event_id)


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=240, time_limit=270)
def process_pending_callbacks() -> int:
    """Beat's sweep: events whose kick was lost, retries that are due, leases that ran out."""
    return callback_events_process_due()
