from celery import shared_task

from core.retry import RETRY_TRANSIENT
from groups import health
from groups.services.broadcasts import broadcasts_publish_due
from groups.services.summaries import group_health_refresh_stale
from groups.services.wecom_sync import groups_reconcile
from wecom.client import WeComClient, WeComTransientError


@shared_task(**RETRY_TRANSIENT, soft_time_limit=100, time_limit=120)
def inquiry_reminder_scan() -> dict:
    """Every few minutes: overdue inquiries → their group's owner, later the nearest supervisors."""
    return vars(health.inquiry_reminder_scan())


@shared_task(**RETRY_TRANSIENT, soft_time_limit=50, time_limit=60)
def publish_due_broadcasts() -> int:
    """Every minute: publish the broadcasts whose scheduled time has come, each exactly once."""
    return broadcasts_publish_due()


@shared_task(**RETRY_TRANSIENT, soft_time_limit=240, time_limit=300)
def zombie_scan() -> dict:
    """Daily: one notice per zombie group to its owner, one summary per supervisor."""
    return vars(health.zombie_scan())


@shared_task(**RETRY_TRANSIENT, soft_time_limit=100, time_limit=120)
def refresh_group_health() -> int:
    """Every few minutes: recompute the group health rows that time has made inexact."""
    return group_health_refresh_stale()


@shared_task(
    **{**RETRY_TRANSIENT, "autoretry_for": (*RETRY_TRANSIENT["autoretry_for"], WeComTransientError)},
    soft_time_limit=1700,
    time_limit=1800,
)
def reconcile_wecom_groups() -> dict:
    """Every half hour: WeCom's customer groups into the CRM (new, changed, dismissed ones).

    A transient WeCom error while listing the groups retries the task; a
    group that fails is read again next time. Running it twice is running it once.
    """
    if not WeComClient.contact().configured:
        return {"skipped": "not configured"}
    result = vars(groups_reconcile())
    return {key: value for key, value in result.items() if key != "failures"}
