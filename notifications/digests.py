"""Digests: alerts that would arrive one by one, sent as one message per interval.

A scan that decides an alert for a digest's recipient writes a `DigestEntry`
instead of an outbox row (its dedupe key keeps a rescan from adding it twice).
`digests_send`, run by beat every minute, sends each recipient with waiting
entries one in-app message per topic listing them, at most one per
SUPERVISOR_DIGEST_MINUTES interval: the message's dedupe key names the
recipient, the topic and the interval, so a second run inside the interval
(or two workers at once) sends nothing, and entries that arrive after the
interval's digest wait for the next one. An entry is marked with the message
that carried it in the same transaction, so it is listed exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from notifications.models import DigestEntry
from notifications.selectors import DIGEST_KEY_PREFIX
from notifications.services import notification_enqueue

# The escalations of overdue orders, for the supervisors they reach.
ESCALATIONS = "escalations"

DIGEST_BATCH = 1000
# Lines listed in a digest's text; the inbox lists all of them with links.
BODY_LINES = 30
_SUBJECT_MAX_LENGTH = DigestEntry._meta.get_field("subject").max_length


@dataclass(frozen=True)
class DigestTopic:
    title: str
    link: str = ""


TOPICS: dict[str, DigestTopic] = {
    ESCALATIONS: DigestTopic(title=gettext_lazy("工单超时升级汇总"), link="/tickets/?deadline=overdue"),
}


def digest_interval_start(now: datetime, minutes: int | None = None) -> datetime:
    """The start of the digest interval `now` falls in, counted from local midnight."""
    minutes = minutes or settings.SUPERVISOR_DIGEST_MINUTES
    local = timezone.localtime(now)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    return midnight + step * ((local - midnight) // step)


@transaction.atomic
def digest_entries_add(rows: Iterable[Mapping]) -> int:
    """Write lines for the recipients' next digests, set-based; returns how many were new.

    Each row: recipient_id, topic, dedupe_key, subject, link (optional),
    created_at (optional). A key already written is left out (ON CONFLICT DO
    NOTHING against a concurrent writer too).
    """
    built: dict[str, DigestEntry] = {}
    for row in rows:
        if row["topic"] not in TOPICS:
            raise ValueError(f"unknown digest topic {row['topic']!r}")
        subject = str(row["subject"])
        if len(subject) > _SUBJECT_MAX_LENGTH:
            subject = subject[: _SUBJECT_MAX_LENGTH - 1] + "…"
        entry = DigestEntry(
            recipient_id=row["recipient_id"],
            topic=row["topic"],
            dedupe_key=str(row["dedupe_key"]),
            subject=subject,
            link=str(row.get("link") or ""),
            created_at=row.get("created_at") or timezone.now(),
        )
        built.setdefault(entry.dedupe_key, entry)
    if not built:
        return 0
    existing = set(
        DigestEntry.objects.filter(dedupe_key__in=list(built)).values_list("dedupe_key", flat=True)
    )
    fresh = [entry for key, entry in built.items() if key not in existing]
    DigestEntry.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


def _digest_text(lines: list[str]) -> str:
    shown = [f"· {line}" for line in lines[:BODY_LINES]]
    if len(lines) > BODY_LINES:
        shown.append(_("……另有 %(count)d 条，请在站内消息中查看。") % {"count": len(lines) - BODY_LINES})
    return "\n".join(shown)


@dataclass
class DigestReport:
    sent: int = 0  # digests written
    entries: int = 0  # lines they carried
    waiting: int = 0  # recipients whose digest of this interval went out already


def digests_send(*, now: datetime | None = None) -> DigestReport:
    """Send every recipient with waiting lines their digest of the current interval
    (see the notes above); a few queries per recipient, none when nothing waits."""
    now = now or timezone.now()
    start = digest_interval_start(now)
    report = DigestReport()
    seen: set[tuple[int, str]] = set()
    after = 0
    while True:
        with transaction.atomic():
            waiting = list(
                DigestEntry.objects.filter(notification__isnull=True, id__gt=after)
                .select_for_update(skip_locked=True)
                .order_by("id")
                .values("id", "recipient_id", "topic", "subject")[:DIGEST_BATCH]
            )
            if not waiting:
                return report
            after = waiting[-1]["id"]
            groups: dict[tuple[int, str], list[dict]] = defaultdict(list)
            for entry in waiting:
                groups[(entry["recipient_id"], entry["topic"])].append(entry)
            for (recipient_id, topic), entries in groups.items():
                if (recipient_id, topic) in seen:
                    continue  # its digest of this run is written: the rest waits for the next
                seen.add((recipient_id, topic))
                spec = TOPICS[topic]
                lines = [entry["subject"] for entry in entries]
                message = notification_enqueue(
                    dedupe_key=f"{DIGEST_KEY_PREFIX}{topic}:{recipient_id}:{start:%Y%m%d%H%M}",
                    subject=_("%(title)s（%(count)d 条）") % {"title": spec.title, "count": len(lines)},
                    body=_digest_text(lines),
                    recipient=User(pk=recipient_id),
                    link=spec.link,
                    reminder=True,
                )
                if message is None:
                    report.waiting += 1
                    continue
                report.sent += 1
                report.entries += DigestEntry.objects.filter(id__in=[e["id"] for e in entries]).update(
                    notification=message
                )
        if len(waiting) < DIGEST_BATCH:
            return report
