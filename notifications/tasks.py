"""Celery entry points of the outbox: thin, idempotent, JSON in and out."""

from dataclasses import asdict

from celery import shared_task

from core.retry import RETRY_TRANSIENT
from notifications.digests import digests_send
from notifications.services import MAX_BATCHES_PER_RUN, kick_delivery, notifications_deliver_due

# The lease (NOTIFICATIONS_LEASE_SECONDS, 300 s by default) outlives a run, and
# the run stops sending before its soft limit, so a row is never sent by two
# workers because one of them was slow.
SOFT_TIME_LIMIT = 120
TIME_BUDGET = SOFT_TIME_LIMIT - 20


# A transient error (a PostgreSQL restart) runs it again shortly rather than
# waiting for beat; rows claimed by the failed run are protected by their lease.
@shared_task(
    **RETRY_TRANSIENT,
    ignore_result=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=SOFT_TIME_LIMIT + 30,
)
def deliver_due_notifications(max_batches: int = MAX_BATCHES_PER_RUN) -> dict:
    """Deliver what is due in the outbox; beat runs it every few seconds, commits kick it.

    Running it twice, or in several workers at once, sends each row once: rows
    are claimed before they are sent. When it stops with work left, it asks
    for another run instead of waiting for beat.
    """
    report = notifications_deliver_due(max_batches=max_batches, time_budget_seconds=TIME_BUDGET)
    if report.more_due:
        kick_delivery()
    return asdict(report)


@shared_task(**RETRY_TRANSIENT, soft_time_limit=50, time_limit=60)
def send_digests() -> dict:
    """Every minute: each recipient's digest of the current interval, once (notifications.digests)."""
    return asdict(digests_send())
