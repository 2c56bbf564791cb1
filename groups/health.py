"""The groups' clock and the scans that keep a group from becoming a 僵尸群.

The response deadline of an inquiry (seed 000 §02 三, "有求必应"):

- asked within business hours (GROUPS_BUSINESS_HOURS, default 08:00–20:00
  local time, every day of the week): GROUPS_RESPONSE_MINUTES (30) after it
  was asked, even when that runs past the end of the hours — 19:50 is due
  at 20:20, a customer who asks just before closing still gets an answer
  that evening;
- asked outside them: GROUPS_OFF_HOURS_RESPONSE_MINUTES (30) after the hours
  next begin — 07:00 and 20:10 are both due at 08:30, the first half hour of
  the working morning. Every question that waited overnight gets the same
  time, whether asked at 20:10 or at 07:59; set the variable to 60 for a
  09:00 deadline.

The deadline is computed once, when the inquiry is recorded, and stored in
`GroupMessage.response_due_at`; scans and lists compare columns with now().
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.selectors import supervisor_chain
from groups.models import GroupMessage, ServiceGroup
from groups.selectors import with_health, zombie_q, zombie_reasons
from notifications.models import Notification
from notifications.services import NotificationDraft, notifications_enqueue_many, notifications_settle


def _at(day, moment: time, tz) -> datetime:
    return timezone.make_aware(datetime.combine(day, moment), tz)


def response_due_at(asked_at: datetime) -> datetime:
    """When an inquiry asked at `asked_at` must be answered (rule above)."""
    tz = timezone.get_current_timezone()
    local = timezone.localtime(asked_at, tz)
    start, end = settings.GROUPS_BUSINESS_START, settings.GROUPS_BUSINESS_END
    if start <= local.time() < end:
        return asked_at + timedelta(minutes=settings.GROUPS_RESPONSE_MINUTES)
    opening_day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    opening = _at(opening_day, start, tz)
    return opening + timedelta(minutes=settings.GROUPS_OFF_HOURS_RESPONSE_MINUTES)


# --- Supervisors ----------------------------------------------------------------------


def supervisor_finder():
    """unit path → ids of the supervisors of the nearest unit (the unit itself
    or above) that has any. One query for all active supervisors."""
    chain = supervisor_chain()

    def nearest(unit_path: str) -> list[int]:
        found = chain(unit_path)
        return found[0] if found else []

    return nearest


# --- Inquiry reminders --------------------------------------------------------------
#
# Every few minutes beat runs `inquiry_reminder_scan`. Each step selects the
# unanswered inquiries that crossed a point in time and were not handled for
# it, locks them (skipping rows another scanner holds), flips a flag so the
# point is never decided twice, and queues the notifications in bulk; their
# dedupe keys make a second decision harmless anyway. A few statements per
# batch, whatever the number of inquiries.

SCAN_BATCH = 1000

_SCAN_FIELDS = (
    "id",
    "group_id",
    "group__name",
    "group__owner_id",
    "group__org_unit__path",
    "sender_name",
    "text",
    "sent_at",
    "response_due_at",
)


@dataclass
class ReminderScan:
    owner_reminders: int = 0
    supervisor_alerts: int = 0
    notifications: int = 0


def _claim(queryset, limit: int) -> list[dict]:
    # An inquiry made into a work order is held by the order: no reminder about it.
    return list(
        queryset.filter(group__archived_at__isnull=True, ticket_number="")
        .order_by("response_due_at", "id")
        .select_for_update(skip_locked=True, of=("self",))
        .values(*_SCAN_FIELDS)[:limit]
    )


def inquiry_key_prefix(message_id: int) -> str:
    """Every reminder and alert about one inquiry has a dedupe key starting so."""
    return f"group-message:{message_id}:"


def inquiry_notifications_settle(*, message_ids: list[int]) -> int:
    """An inquiry is answered (a reply in the group or ingested, or a work order made
    from it): the reminders and alerts about it are read for everyone who got them,
    and those not yet sent are withdrawn. Runs in the caller's transaction."""
    if not message_ids:
        return 0
    return notifications_settle(dedupe_prefixes=[inquiry_key_prefix(pk) for pk in message_ids])


def _inquiry_notice(row: dict, recipient_id: int, key: str, subject: str) -> NotificationDraft:
    local = timezone.localtime(row["sent_at"])
    body = _("%(time)s %(sender)s 在「%(group)s」提问：%(text)s") % {
        "time": f"{local:%m-%d %H:%M}",
        "sender": row["sender_name"],
        "group": row["group__name"],
        "text": row["text"][:200],
    }
    return NotificationDraft(
        dedupe_key=f"{inquiry_key_prefix(row['id'])}{key}:{recipient_id}",
        subject=subject,
        body=body,
        recipient_id=recipient_id,
        channel=Notification.Channel.IN_APP,
        link=f"/groups/{row['group_id']}/#message-{row['id']}",
    )


def _remind_owners(now: datetime, limit: int) -> tuple[int, int]:
    with transaction.atomic():
        rows = _claim(GroupMessage.objects.overdue(now).filter(owner_reminded=False), limit)
        GroupMessage.objects.filter(id__in=[r["id"] for r in rows]).update(owner_reminded=True)
        drafts = [
            _inquiry_notice(
                r,
                r["group__owner_id"],
                "overdue",
                _("群内咨询超时未回复：%(group)s") % {"group": r["group__name"]},
            )
            for r in rows
        ]
        return len(rows), notifications_enqueue_many(drafts, reminder=True)


def _alert_supervisors(now: datetime, nearest, limit: int) -> tuple[int, int]:
    escalate_before = now - timedelta(minutes=settings.GROUPS_ESCALATE_AFTER_MINUTES)
    with transaction.atomic():
        rows = _claim(GroupMessage.objects.overdue(escalate_before).filter(supervisors_alerted=False), limit)
        GroupMessage.objects.filter(id__in=[r["id"] for r in rows]).update(supervisors_alerted=True)
        drafts = [
            _inquiry_notice(
                r,
                supervisor_id,
                "escalated",
                _("群内咨询严重超时，请督促回复：%(group)s") % {"group": r["group__name"]},
            )
            for r in rows
            for supervisor_id in nearest(r["group__org_unit__path"])
        ]
        return len(rows), notifications_enqueue_many(drafts, reminder=True)


def inquiry_reminder_scan(*, now: datetime | None = None, batch: int = SCAN_BATCH, max_batches: int = 100):
    """Remind a group's owner once of each inquiry past its response deadline;
    GROUPS_ESCALATE_AFTER_MINUTES later, if still unanswered, alert once the
    supervisors of the nearest unit up (from the group's unit) that has any.
    Archived groups are left alone."""
    now = now or timezone.now()
    nearest = supervisor_finder()
    result = ReminderScan()
    with translation.override(settings.LANGUAGE_CODE):
        for _round in range(max_batches):
            claimed, sent = _remind_owners(now, batch)
            result.owner_reminders += claimed
            result.notifications += sent
            if claimed < batch:
                break
        for _round in range(max_batches):
            claimed, sent = _alert_supervisors(now, nearest, batch)
            result.supervisor_alerts += claimed
            result.notifications += sent
            if claimed < batch:
                break
    return result


# --- Zombie groups ----------------------------------------------------------------------

SUMMARY_EXAMPLES = 30


@dataclass
class ZombieScan:
    zombies: int = 0
    owner_notices: int = 0
    supervisor_summaries: int = 0
    notifications: int = 0


def zombie_scan(*, now: datetime | None = None) -> ZombieScan:
    """Once a day: tell each zombie group's owner (one notice per group per
    day, `group:<id>:zombie:<date>`) and send each supervisor of the nearest
    unit up one summary of the zombie groups under them
    (`group-zombie-summary:<user>:<date>`). Running it again the same day
    sends nothing new. Three queries and one insert, whatever the number of
    groups."""
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    nearest = supervisor_finder()
    zombies = list(
        with_health(ServiceGroup.objects.active(), now)
        .filter(zombie_q(now))
        .select_related("org_unit", "owner")
        .order_by("org_unit__path", "name", "id")
    )
    drafts: list[NotificationDraft] = []
    by_supervisor: dict[int, list[tuple[ServiceGroup, list[str]]]] = {}
    with translation.override(settings.LANGUAGE_CODE):
        for group in zombies:
            reasons = zombie_reasons(group, now)
            drafts.append(
                NotificationDraft(
                    dedupe_key=f"group:{group.pk}:zombie:{day}",
                    subject=_("客户群需要您回应：%(group)s") % {"group": group.name},
                    body=_("%(reasons)s。建群后须及时回应客户咨询，不能让群变成“僵尸群”。")
                    % {"reasons": _("；").join(reasons)},
                    recipient_id=group.owner_id,
                    link=f"/groups/{group.pk}/",
                )
            )
            for supervisor_id in nearest(group.org_unit.path):
                by_supervisor.setdefault(supervisor_id, []).append((group, reasons))
        for supervisor_id, groups in by_supervisor.items():
            lines = [
                _("· %(group)s（%(owner)s）：%(reasons)s")
                % {"group": group.name, "owner": group.owner, "reasons": _("；").join(reasons)}
                for group, reasons in groups[:SUMMARY_EXAMPLES]
            ]
            if len(groups) > SUMMARY_EXAMPLES:
                lines.append(_("……另有%(count)d个群") % {"count": len(groups) - SUMMARY_EXAMPLES})
            drafts.append(
                NotificationDraft(
                    dedupe_key=f"group-zombie-summary:{supervisor_id}:{day}",
                    subject=_("今日僵尸群汇总：%(count)d个") % {"count": len(groups)},
                    body="\n".join(lines),
                    recipient_id=supervisor_id,
                    link="/groups/?zombie=1",
                )
            )
    return ZombieScan(
        zombies=len(zombies),
        owner_notices=len(zombies),
        supervisor_summaries=len(by_supervisor),
        notifications=notifications_enqueue_many(drafts, reminder=True),
    )
