from celery import shared_task

from outages import services

_RETRY = {
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**_RETRY, soft_time_limit=240, time_limit=300)
def fan_out_notices() -> int:
    """Every minute: send the outage notices that are due."""
    return services.fan_out_due()


@shared_task(**_RETRY, soft_time_limit=50, time_limit=60)
def long_outage_scan() -> int:
    """Every few minutes: on-site visits for long fault outages."""
    return services.long_outage_scan()
