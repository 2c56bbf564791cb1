"""Periodic work on customer archives."""

from celery import shared_task

from core.retry import RETRY_TRANSIENT
from customers.services import archive_reminders_enqueue
from customers.visits.services import routine_visits_schedule


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=600, time_limit=660)
def remind_stale_archives() -> int:
    """Weekly (beat, Monday morning): remind managers of stale or incomplete archives.

    Idempotent within an ISO week: a second run writes nothing.
    """
    return archive_reminders_enqueue()


@shared_task(ignore_result=True, soft_time_limit=1800, time_limit=1860)
def validate_import(job_id: int) -> None:
    """Check an uploaded archive file row by row and store the preview (customers.imports)."""
    from customers.imports import validate_job

    validate_job(job_id)


@shared_task(ignore_result=True, soft_time_limit=3600, time_limit=3660)
def write_import(job_id: int) -> None:
    """Write the valid rows of a confirmed archive import in batches (customers.imports)."""
    from customers.imports import write_job

    write_job(job_id)


@shared_task(ignore_result=True, soft_time_limit=3600, time_limit=3660)
def write_export(job_id: int) -> None:
    """Write a large customer export's workbook (customers.exports)."""
    from customers.exports import write_export_job

    write_export_job(job_id)


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=120, time_limit=180)
def sweep_exports() -> tuple[int, int]:
    """Every minute (beat): queue stalled exports again, delete expired ones (customers.exports)."""
    from customers.exports import export_jobs_sweep

    return export_jobs_sweep()


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=600, time_limit=660)
def schedule_routine_visits() -> int:
    """Daily (beat): plan routine visits for sensitive customers left without one-to-one contact.

    Idempotent: a customer gets at most one routine visit per month and a
    manager one summary per day, however often this runs.
    """
    return routine_visits_schedule()
