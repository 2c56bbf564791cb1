"""Periodic work on customer archives."""

from celery import shared_task

from customers.services import archive_reminders_enqueue


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660)
def remind_stale_archives() -> int:
    """Weekly (beat, Monday morning): remind managers of stale or incomplete archives.

    Idempotent within an ISO week: a second run writes nothing.
    """
    return archive_reminders_enqueue()
