from celery import shared_task
from django.db import InterfaceError, OperationalError

from tickets import sla

# A dropped database connection (a PostgreSQL restart) is as transient as a
# broker hiccup; the scans are idempotent, so running one again is safe.
TRANSIENT_ERRORS = (ConnectionError, TimeoutError, OperationalError, InterfaceError)


@shared_task(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def sla_scan() -> dict:
    """Every minute: sign-for reminders, near-deadline warnings, overdue escalations."""
    return vars(sla.sla_scan())


@shared_task(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def return_visit_scan() -> dict:
    """Every few minutes: return visits due today, and missed ones."""
    return sla.return_visit_scan()
