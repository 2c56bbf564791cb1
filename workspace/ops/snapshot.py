"""Everything the operations page, its JSON and /metrics show, in a fixed number of queries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app as celery_app
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core.models import OpsIncident, PeriodicRun
from notifications.models import Notification
from wecom import status as wecom_status

logger = logging.getLogger(__name__)

SLA_SCAN_TASK = "tickets.tasks.sla_scan"
DELIVERY_TASK = "notifications.tasks.deliver_due_notifications"
FAILED_WINDOW = timedelta(days=1)


def watched_tasks() -> dict[str, int]:
    """Task name -> minutes without a completed run after which it counts as stalled."""
    return {
        SLA_SCAN_TASK: settings.OPS_SLA_SCAN_STALE_MINUTES,
        DELIVERY_TASK: settings.OPS_DELIVERY_STALE_MINUTES,
    }


def queue_names() -> list[str]:
    return [settings.REALTIME_QUEUE, settings.BULK_QUEUE]


def queue_depths() -> dict[str, int | None]:
    """Messages waiting per queue (Redis: LLEN of the queue's lists; filesystem: its files);
    None when the broker cannot be asked."""
    depths: dict[str, int | None] = dict.fromkeys(queue_names())
    try:
        with celery_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            channel = connection.default_channel
            for queue in depths:
                depths[queue] = int(channel._size(queue))
    except Exception as exc:  # any broker error means "unknown" here
        logger.warning("ops: queue depths unavailable: %s", type(exc).__name__)
    return depths


@dataclass
class TaskRow:
    task: str
    names: list[str]  # the beat entries that run it
    enabled: bool
    last_sent_at: datetime | None  # by beat
    run: PeriodicRun | None
    stale_after_minutes: int | None
    stalled: bool

    def as_json(self) -> dict:
        run = self.run
        return {
            "task": self.task,
            "entries": self.names,
            "enabled": self.enabled,
            "last_sent_at": _iso(self.last_sent_at),
            "last_started_at": _iso(run and run.last_started_at),
            "last_finished_at": _iso(run and run.last_finished_at),
            "last_succeeded_at": _iso(run and run.last_succeeded_at),
            "last_outcome": (run and run.last_outcome) or "",
            "last_error": (run and run.last_error) or "",
            "consecutive_failures": run.consecutive_failures if run else 0,
            "stale_after_minutes": self.stale_after_minutes,
            "stalled": self.stalled,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def stalled_since(run: PeriodicRun | None) -> datetime | None:
    """Since when the task has not completed: its last success, else since it was first watched."""
    if run is None:
        return None
    return run.last_succeeded_at or run.created_at


def task_rows(now: datetime) -> list[TaskRow]:
    """Every periodic task (the beat defaults and the admin's rows) with its last run."""
    entries: dict[str, dict] = {}
    for name, entry in settings.BEAT_SCHEDULE_DEFAULTS.items():
        entries.setdefault(entry["task"], {"names": [], "enabled": False, "sent": None})["names"].append(name)
    for row in PeriodicTask.objects.exclude(task__startswith="celery.").only(
        "name", "task", "enabled", "last_run_at"
    ):
        entry = entries.setdefault(row.task, {"names": [], "enabled": False, "sent": None})
        if row.name not in entry["names"]:
            entry["names"].append(row.name)
        entry["enabled"] = entry["enabled"] or row.enabled
        if row.last_run_at and (entry["sent"] is None or row.last_run_at > entry["sent"]):
            entry["sent"] = row.last_run_at
    runs = {run.task: run for run in PeriodicRun.objects.all()}
    limits = watched_tasks()
    rows = []
    for task in sorted(entries):
        run = runs.get(task)
        limit = limits.get(task)
        since = stalled_since(run)
        stalled = bool(limit and since and now - since > timedelta(minutes=limit))
        entry = entries[task]
        rows.append(TaskRow(task, entry["names"], entry["enabled"], entry["sent"], run, limit, stalled))
    return rows


def outbox_figures(now: datetime) -> dict:
    """The outbox backlog: rows due, the oldest due, failures of the last day by channel."""
    due = Notification.objects.due(now)
    oldest = Notification.objects.filter(
        status=Notification.Status.PENDING, next_attempt_at__lte=now
    ).aggregate(oldest=Min("next_attempt_at"))["oldest"]
    failed = dict(
        Notification.objects.filter(
            status=Notification.Status.FAILED, next_attempt_at__gte=now - FAILED_WINDOW
        )
        .values_list("channel")
        .annotate(count=Count("id"))
        .values_list("channel", "count")
    )
    return {
        "due": due.count(),
        "oldest_due_at": oldest,
        "oldest_due_minutes": int((now - oldest).total_seconds() // 60) if oldest else 0,
        "failed_last_day": sum(failed.values()),
        "failed_last_day_by_channel": failed,
    }


def sms_state(failed_by_channel: dict[str, int]) -> dict:
    provider = settings.SMS_PROVIDER
    configured = {
        "gateway": bool(settings.SMS_GATEWAY_URL),
        "aliyun": bool(settings.ALIYUN_SMS_ACCESS_KEY_ID and settings.ALIYUN_SMS_ACCESS_KEY_SECRET),
        "tencent": bool(
            settings.TENCENT_SMS_SECRET_ID
            and settings.TENCENT_SMS_SECRET_KEY
            and settings.TENCENT_SMS_SDK_APP_ID
        ),
    }[provider]
    last_failure = (
        Notification.objects.filter(status=Notification.Status.FAILED, channel=Notification.Channel.SMS)
        .order_by("-next_attempt_at")
        .values_list("last_error", "next_attempt_at")
        .first()
    )
    return {
        "provider": provider,
        "configured": configured,
        "failed_last_day": failed_by_channel.get(Notification.Channel.SMS, 0),
        "last_error": last_failure[0] if last_failure else "",
        "last_error_at": last_failure[1] if last_failure else None,
    }


def wecom_state() -> dict:
    state = wecom_status.snapshot()
    error = state["marks"].get(wecom_status.ERROR_KEY) or {}
    return {
        "configured": state["configured"],
        "callback_configured": state["callback_configured"],
        "tokens": {token["kind"]: token["cached"] for token in state["tokens"]},
        "pending_callbacks": state["pending_callbacks"],
        "failed_callbacks": state["failed_callbacks"],
        "last_error": error.get("message", ""),
        "last_error_at": error.get("at"),
        "webhook_configured": bool(settings.WECOM_WEBHOOK_URL),
        "monitoring_group_configured": bool(settings.OPS_ALERT_WECOM_WEBHOOK_URL),
    }


def ops_snapshot(now: datetime | None = None, *, with_queues: bool = True) -> dict:
    now = now or timezone.now()
    outbox = outbox_figures(now)
    return {
        "at": now,
        "tasks": task_rows(now),
        "queues": queue_depths() if with_queues else {},
        "outbox": outbox,
        "wecom": wecom_state(),
        "sms": sms_state(outbox["failed_last_day_by_channel"]),
        "incidents": list(OpsIncident.objects.filter(closed_at__isnull=True)),
    }


def snapshot_json(snapshot: dict) -> dict:
    """The snapshot as JSON (the health URL)."""
    outbox = snapshot["outbox"]
    wecom = snapshot["wecom"]
    sms = snapshot["sms"]
    return {
        "at": _iso(snapshot["at"]),
        "status": "alert" if snapshot["incidents"] else "ok",
        "tasks": [row.as_json() for row in snapshot["tasks"]],
        "queues": snapshot["queues"],
        "outbox": {**outbox, "oldest_due_at": _iso(outbox["oldest_due_at"])},
        "wecom": {**wecom, "last_error_at": wecom["last_error_at"]},
        "sms": {**sms, "last_error_at": _iso(sms["last_error_at"])},
        "incidents": [
            {"key": incident.key, "summary": incident.summary, "opened_at": _iso(incident.opened_at)}
            for incident in snapshot["incidents"]
        ],
    }
