from celery import shared_task

from core.retry import RETRY_TRANSIENT
from reach import services


@shared_task(**RETRY_TRANSIENT, soft_time_limit=240, time_limit=300)
def refresh_reach() -> int:
    """Every minute: reach records follow their channel; what failed falls back once."""
    return services.reach_refresh()
