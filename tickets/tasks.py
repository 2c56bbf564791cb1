from celery import shared_task

from core.retry import RETRY_TRANSIENT
from tickets import sla


@shared_task(**RETRY_TRANSIENT, soft_time_limit=50, time_limit=60)
def sla_scan() -> dict:
    """Every minute: sign-for reminders, near-deadline warnings, overdue escalations."""
    return vars(sla.sla_scan())


@shared_task(**RETRY_TRANSIENT, soft_time_limit=50, time_limit=60)
def return_visit_scan() -> dict:
    """Every few minutes: return visits due today, and missed ones."""
    return sla.return_visit_scan()


@shared_task(**RETRY_TRANSIENT, soft_time_limit=50, time_limit=60)
def promise_scan() -> dict:
    """Every quarter of an hour: service commitments near their date, and passed ones."""
    return sla.promise_scan()
