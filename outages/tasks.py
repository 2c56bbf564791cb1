from celery import shared_task

from core.retry import RETRY_TRANSIENT
from outages import complaints, services


@shared_task(**RETRY_TRANSIENT, soft_time_limit=240, time_limit=300)
def fan_out_notices() -> int:
    """Every minute: start planned outages whose time has come, send the
    notices that are due, link new complaints."""
    services.outages_start_due()
    sent = services.fan_out_due()
    complaints.complaints_sweep()
    return sent


@shared_task(**RETRY_TRANSIENT, soft_time_limit=50, time_limit=60)
def long_outage_scan() -> int:
    """Every few minutes: on-site visits for long fault outages."""
    return services.long_outage_scan()
