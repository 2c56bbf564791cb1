"""The watchdog: finds what is wrong with the night shift and tells people once per incident.

It runs inside the beat process (crm/beat.py), every OPS_WATCHDOG_SECONDS, so
neither a stuck queue nor a dead worker can silence it; `watchdog_check` takes
the time so tests can move it.

An incident opens when a problem appears (one open incident per problem key),
stays quiet while the problem lasts, and closes when it is gone; opening and
closing each tell the people on call once. An opening alert that no channel
took is tried again at the next check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.models import OpsIncident, PeriodicRun
from workspace.ops.alerts import alert_people
from workspace.ops.snapshot import outbox_figures, stalled_since, watched_tasks

logger = logging.getLogger(__name__)

TASK_LABELS = {
    "tickets.tasks.sla_scan": gettext_lazy("工单时限扫描"),
    "notifications.tasks.deliver_due_notifications": gettext_lazy("通知投递"),
}


def _label(task: str) -> str:
    return str(TASK_LABELS.get(task, task))


def find_problems(now: datetime) -> dict[str, str]:
    """Problem key -> what is wrong, in words for the people on call."""
    problems: dict[str, str] = {}
    for task in watched_tasks():
        # A task never seen is watched from now: its first run has that long to complete.
        PeriodicRun.objects.get_or_create(task=task)
    runs = {run.task: run for run in PeriodicRun.objects.all()}
    for task, minutes in watched_tasks().items():
        since = stalled_since(runs.get(task))
        if since and now - since > timedelta(minutes=minutes):
            late = int((now - since).total_seconds() // 60)
            problems[f"stalled:{task}"] = _("%(task)s已 %(minutes)s 分钟未完成（上限 %(limit)s 分钟）。") % {
                "task": _label(task),
                "minutes": late,
                "limit": minutes,
            }
    for run in runs.values():
        if run.consecutive_failures >= settings.OPS_TASK_FAILURE_THRESHOLD:
            problems[f"failing:{run.task}"] = _("定时任务 %(task)s 已连续失败 %(count)s 次：%(error)s") % {
                "task": _label(run.task),
                "count": run.consecutive_failures,
                "error": run.last_error or "-",
            }
    outbox = outbox_figures(now)
    if outbox["due"] > settings.OPS_OUTBOX_DUE_THRESHOLD:
        problems["outbox:backlog"] = _("待发送通知积压 %(count)s 条（上限 %(limit)s 条）。") % {
            "count": outbox["due"],
            "limit": settings.OPS_OUTBOX_DUE_THRESHOLD,
        }
    if outbox["oldest_due_minutes"] > settings.OPS_OUTBOX_OLDEST_DUE_MINUTES:
        problems["outbox:late"] = _("最早的待发送通知已等待 %(minutes)s 分钟（上限 %(limit)s 分钟）。") % {
            "minutes": outbox["oldest_due_minutes"],
            "limit": settings.OPS_OUTBOX_OLDEST_DUE_MINUTES,
        }
    if outbox["failed_last_day"] > settings.OPS_OUTBOX_FAILED_THRESHOLD:
        problems["outbox:failed"] = _("近 24 小时发送失败的通知 %(count)s 条（上限 %(limit)s 条）。") % {
            "count": outbox["failed_last_day"],
            "limit": settings.OPS_OUTBOX_FAILED_THRESHOLD,
        }
    return problems


@dataclass
class WatchReport:
    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    alerted: list[str] = field(default_factory=list)


def _open(key: str, summary: str, now: datetime) -> OpsIncident | None:
    try:
        with transaction.atomic():
            return OpsIncident.objects.create(key=key, summary=summary[:500], opened_at=now)
    except IntegrityError:  # another check opened it a moment ago
        return None


def _tell_opened(incident: OpsIncident, now: datetime) -> bool:
    subject = _("【CRM 运行告警】%(summary)s") % {"summary": incident.summary}
    body = _("%(summary)s\n发生时间：%(at)s\n请检查 Celery worker、beat 与消息队列；运行状况见 /ops/。") % {
        "summary": incident.summary,
        "at": timezone.localtime(incident.opened_at).strftime("%Y-%m-%d %H:%M"),
    }
    channels = alert_people(subject=subject, body=body, dedupe_key=f"ops:incident:{incident.pk}:opened")
    if not channels:
        return False
    OpsIncident.objects.filter(pk=incident.pk, alerted_at__isnull=True).update(
        alerted_at=now, alert_channels=",".join(channels)[:100]
    )
    return True


def _tell_closed(incident: OpsIncident) -> None:
    subject = _("【CRM 运行恢复】%(summary)s") % {"summary": incident.summary}
    body = _("已恢复正常：%(summary)s\n持续：%(since)s 至 %(until)s") % {
        "summary": incident.summary,
        "since": timezone.localtime(incident.opened_at).strftime("%Y-%m-%d %H:%M"),
        "until": timezone.localtime(incident.closed_at).strftime("%Y-%m-%d %H:%M"),
    }
    alert_people(subject=subject, body=body, dedupe_key=f"ops:incident:{incident.pk}:closed")


def watchdog_check(now: datetime | None = None) -> WatchReport:
    """One look: open incidents for new problems, close those that are healthy again, tell people."""
    now = now or timezone.now()
    report = WatchReport()
    problems = find_problems(now)
    open_incidents = {
        incident.key: incident for incident in OpsIncident.objects.filter(closed_at__isnull=True)
    }
    for key, incident in open_incidents.items():
        if key in problems:
            continue
        if OpsIncident.objects.filter(pk=incident.pk, closed_at__isnull=True).update(closed_at=now):
            incident.closed_at = now
            report.closed.append(key)
            logger.warning("ops incident closed: %s", key)
            if incident.alerted_at:
                _tell_closed(incident)
    for key, summary in problems.items():
        incident = open_incidents.get(key)
        if incident is None:
            incident = _open(key, summary, now)
            if incident is None:
                continue
            report.opened.append(key)
            logger.error("ops incident opened: %s", key)
        if incident.alerted_at is None and _tell_opened(incident, now):
            report.alerted.append(key)
    return report


# After beat starts, the workers get this many watchdog intervals to run the scans that
# are due (beat sends them at once) before anyone is told: a restart after planned
# maintenance wakes nobody.
STARTUP_GRACE_INTERVALS = 2


class WatchdogClock:
    """When the beat process should look next (crm/beat.py): every OPS_WATCHDOG_SECONDS
    after a start-up grace, never failing the loop it runs in."""

    def __init__(self):
        self.next_at: float | None = None

    def maybe_check(self, monotonic_now: float) -> WatchReport | None:
        if self.next_at is None:
            self.next_at = monotonic_now + STARTUP_GRACE_INTERVALS * settings.OPS_WATCHDOG_SECONDS
        if monotonic_now < self.next_at:
            return None
        self.next_at = monotonic_now + settings.OPS_WATCHDOG_SECONDS
        close_old_connections()
        try:
            return watchdog_check()
        except Exception:
            logger.exception("ops watchdog check failed")
            return None
        finally:
            close_old_connections()
