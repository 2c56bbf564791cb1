from celery import shared_task

from core.retry import RETRY_TRANSIENT
from reach import one_to_one, services


@shared_task(**RETRY_TRANSIENT, soft_time_limit=240, time_limit=300)
def refresh_reach() -> int:
    """Every minute: reach records follow their channel; what failed falls back once."""
    return services.reach_refresh()


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=100, time_limit=120)
def send_personal_posts() -> dict:
    """Kicked when a notice is fanned out, and by beat: create the WeCom one-to-one tasks
    of queued posts, then poll WeCom for the waiting ones."""
    created = one_to_one.personal_posts_create()
    polled = one_to_one.personal_posts_poll()
    return {"created": vars(created), "polled": vars(polled)}
