from celery import shared_task

from core.retry import RETRY_TRANSIENT
from groups import health
from groups.archive.services import archive_pull_due
from groups.services.broadcasts import broadcasts_publish_due
from groups.services.posts import post_states_poll, post_tasks_create
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


@shared_task(**RETRY_TRANSIENT, ignore_result=True, soft_time_limit=100, time_limit=120)
def create_group_post_tasks() -> dict:
    """Kicked after a broadcast commits, and every minute: create the WeCom 群发 tasks of queued posts."""
    return vars(post_tasks_create())


@shared_task(**RETRY_TRANSIENT, soft_time_limit=240, time_limit=300)
def poll_group_posts() -> dict:
    """Every few minutes: WeCom's send state of the waiting 群发 tasks; reminders and escalation."""
    return vars(post_states_poll())


@shared_task(**RETRY_TRANSIENT, soft_time_limit=100, time_limit=120)
def pull_chat_archive() -> dict:
    """Every minute: the chat archive's new group messages, then the held ones whose group is known now."""
    return archive_pull_due()


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
