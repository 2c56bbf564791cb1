"""Visits (走访): planning, preparing, confirming and closing them, and routine visits for
sensitive customers left without one-to-one contact."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from core.text import text_error
from core.validation import check_field_names, full_clean_or_raise, is_future, is_past
from customers.models import Customer, Visit
from customers.visits.selectors import routine_visit_candidates
from notifications.services import NotificationDraft, notifications_enqueue_many


@transaction.atomic
def visit_schedule(
    *,
    customer: Customer,
    staff: User,
    purpose: str,
    scheduled_at: datetime,
    created_by: User | None = None,
    origin_key: str | None = None,
    **preparation: Any,
) -> Visit:
    """Plan a visit: a purpose and a time not in the past; the visitor must be able to see the customer.

    Preparation (seed 000 §04: the customer's basics reviewed, the cause of the
    demand, a first solution) may be filled in now or later.
    """
    check_field_names(preparation, Visit.PREPARATION_FIELDS)
    visit = Visit(
        customer=customer,
        staff=staff,
        purpose=purpose,
        scheduled_at=scheduled_at,
        created_by=created_by,
        origin_key=origin_key,
        **preparation,
    )
    errors: dict[str, list[str]] = {}
    if scheduled_at is None:
        errors["scheduled_at"] = [_("请填写计划走访时间。")]
    elif is_past(scheduled_at):
        errors["scheduled_at"] = [_("计划走访时间不能早于当前时间。")]
    if not Customer.objects.visible_to(staff).filter(pk=customer.pk).exists():
        errors["staff"] = [_("%(staff)s无权查看该客户，不能安排其走访。") % {"staff": staff}]
    full_clean_or_raise(visit, errors)
    visit.save()
    return visit


def _lock_open_visit(visit: Visit) -> Visit:
    current = Visit.objects.select_for_update().get(pk=visit.pk)
    if current.done_at is not None:
        raise ValidationError(_("该走访已完成，不能再修改。"))
    return current


@transaction.atomic
def visit_prepare(*, visit: Visit, user: User, **preparation: Any) -> Visit:
    """Fill in the preparation checklist of an open visit."""
    check_field_names(preparation, Visit.PREPARATION_FIELDS)
    current = _lock_open_visit(visit)
    for name, value in preparation.items():
        setattr(current, name, value.strip() if isinstance(value, str) else value)
    full_clean_or_raise(current, {})
    current.save()
    return current


@transaction.atomic
def visit_confirm(*, visit: Visit, user: User) -> Visit:
    """The appointment with the customer is made (上门前提前与客户预约). Confirming twice changes nothing."""
    current = _lock_open_visit(visit)
    if not current.appointment_confirmed:
        current.appointment_confirmed = True
        current.confirmed_at = timezone.now()
        current.save(update_fields=["appointment_confirmed", "confirmed_at"])
    return current


@transaction.atomic
def visit_complete(*, visit: Visit, user: User, outcome: str, done_at: datetime | None = None) -> Visit:
    """Close a visit with what came of it: the outcome is required, the time not in the future."""
    current = _lock_open_visit(visit)
    outcome = (outcome or "").strip()
    done_at = done_at or timezone.now()
    errors: dict[str, list[str]] = {}
    if not outcome:
        errors["outcome"] = [_("请填写走访结果。")]
    elif text_error(outcome, multiline=True):
        errors["outcome"] = [text_error(outcome, multiline=True)]
    if is_future(done_at):
        errors["done_at"] = [_("完成时间不能晚于当前时间。")]
    if errors:
        raise ValidationError(errors)
    current.outcome = outcome
    current.done_at = done_at
    current.save(update_fields=["outcome", "done_at"])
    return current


# --- Routine visits for sensitive customers ---------------------------------------------

ROUTINE_VISIT_HOUR = 9
ROUTINE_EXAMPLES_PER_MANAGER = 20


def _routine_visit_time(today: date) -> datetime:
    """The next working day at 09:00 local time."""
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(ROUTINE_VISIT_HOUR)))


@transaction.atomic
def routine_visits_schedule(*, now: datetime | None = None) -> int:
    """Plan one routine visit for every sensitive customer left without one-to-one contact.

    Each visit goes to the customer's account manager, keyed
    `routine:<customer>:<yyyy-mm>` so a customer gets at most one per month
    however often this runs; each manager gets one in-app summary per day
    (`routine-visits:<manager>:<yyyy-mm-dd>`). Set-based: one query for the
    candidates, bulk inserts for visits and notifications. Returns how many
    customers were due.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    period = f"{today:%Y-%m}"
    scheduled_at = _routine_visit_time(today)
    rows = list(
        routine_visit_candidates(now=now)
        .order_by("manager_id", "id")
        .values("id", "manager_id", "name", "number")
    )
    if not rows:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        reason = _("例行走访：超过 %(days)d 天未与该重点客户一对一联系。") % {
            "days": settings.ROUTINE_VISIT_DAYS
        }
    Visit.objects.bulk_create(
        [
            Visit(
                customer_id=row["id"],
                staff_id=row["manager_id"],
                purpose=Visit.Purpose.ROUTINE,
                scheduled_at=scheduled_at,
                prep_cause=reason,
                origin_key=f"routine:{row['id']}:{period}",
            )
            for row in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    by_manager: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_manager[row["manager_id"]].append(row)
    link = reverse("customers:visit_planner")
    drafts = []
    with translation.override(settings.LANGUAGE_CODE):
        for manager_id, customers in by_manager.items():
            lines = [
                _("以下 %(count)d 位重点客户超过 %(days)d 天未一对一联系，已为您安排例行走访：")
                % {"count": len(customers), "days": settings.ROUTINE_VISIT_DAYS}
            ]
            lines += [
                _("· %(name)s（户号 %(number)s）") % {"name": row["name"], "number": row["number"]}
                for row in customers[:ROUTINE_EXAMPLES_PER_MANAGER]
            ]
            if len(customers) > ROUTINE_EXAMPLES_PER_MANAGER:
                lines.append(_("……等共 %(count)d 位。") % {"count": len(customers)})
            drafts.append(
                NotificationDraft(
                    dedupe_key=f"routine-visits:{manager_id}:{today:%Y-%m-%d}",
                    subject=_("新安排例行走访 %(count)d 户") % {"count": len(customers)},
                    body="\n".join(lines),
                    recipient_id=manager_id,
                    link=link,
                )
            )
    notifications_enqueue_many(drafts, reminder=True)
    return len(rows)
