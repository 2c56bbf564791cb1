"""The contact log (联系记录) and visits (走访): services, reads and forms.

Writes follow customers.services: keyword-only arguments, one transaction,
validation before saving, a ValidationError with Chinese messages and nothing
saved on bad input.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.forms import StyledFormMixin
from customers.models import Contact, Customer, Interaction, Visit
from notifications.services import NotificationDraft, notifications_enqueue_many

# A clock a little ahead of the server's is not "the future".
FUTURE_TOLERANCE = timedelta(minutes=5)
INTERACTION_FIELDS = frozenset(
    {"channel", "direction", "occurred_at", "summary", "mood", "ticket_number", "next_follow_up"}
    | set(Interaction.STEP_FIELDS)
)
PREPARATION_FIELDS = frozenset({"prep_basics_reviewed", "prep_cause", "prep_solution"})


def _check_field_names(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unexpected fields: {', '.join(sorted(unknown))}")


def _full_clean(obj, errors: dict[str, list[str]]) -> None:
    try:
        # Fields already judged by the service's own rules are not reported twice.
        obj.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


# --- Contact log --------------------------------------------------------------------


def interaction_suggests_ticket(interaction: Interaction) -> bool:
    """An angry sensitive customer (seed 000 §03): a work order is suggested so the matter is tracked."""
    return interaction.mood == Interaction.Mood.ANGRY and interaction.customer.needs_one_to_one


@transaction.atomic
def interaction_log(
    *, customer: Customer, staff: User, created_by: User | None = None, **fields: Any
) -> Interaction:
    """Record one contact with a customer.

    The contact time is required and not in the future; the summary is
    required; the next follow-up date, when given, is not before the contact.
    The seven steps of seed 000 §04 are optional ticks.
    """
    _check_field_names(fields, INTERACTION_FIELDS)
    fields["summary"] = (fields.get("summary") or "").strip()
    fields["ticket_number"] = (fields.get("ticket_number") or "").strip()
    interaction = Interaction(customer=customer, staff=staff, created_by=created_by or staff, **fields)
    errors: dict[str, list[str]] = {}
    occurred_at = interaction.occurred_at
    if occurred_at is None:
        errors["occurred_at"] = [_("请填写联系时间。")]
    elif occurred_at > timezone.now() + FUTURE_TOLERANCE:
        errors["occurred_at"] = [_("联系时间不能晚于当前时间。")]
    if not interaction.summary:
        errors["summary"] = [_("请填写联系内容。")]
    follow_up = interaction.next_follow_up
    if follow_up and occurred_at and follow_up < timezone.localtime(occurred_at).date():
        errors["next_follow_up"] = [_("下次跟进日期不能早于联系日期。")]
    _full_clean(interaction, errors)
    interaction.save()
    return interaction


# --- Visits -------------------------------------------------------------------------


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
    _check_field_names(preparation, PREPARATION_FIELDS)
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
    elif scheduled_at < timezone.now() - FUTURE_TOLERANCE:
        errors["scheduled_at"] = [_("计划走访时间不能早于当前时间。")]
    if not Customer.objects.visible_to(staff).filter(pk=customer.pk).exists():
        errors["staff"] = [_("%(staff)s无权查看该客户，不能安排其走访。") % {"staff": staff}]
    _full_clean(visit, errors)
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
    _check_field_names(preparation, PREPARATION_FIELDS)
    current = _lock_open_visit(visit)
    for name, value in preparation.items():
        setattr(current, name, value.strip() if isinstance(value, str) else value)
    _full_clean(current, {})
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
    if done_at > timezone.now() + FUTURE_TOLERANCE:
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


def routine_visit_candidates(*, now: datetime | None = None) -> QuerySet[Customer]:
    """Sensitive customers with a manager and no visit and no one-to-one contact in ROUTINE_VISIT_DAYS.

    A visit counts when it was planned or done within the period or is planned
    for later; a contact counts on a one-to-one channel (phone, private chat,
    SMS, visit).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ROUTINE_VISIT_DAYS)
    recent_visit = Visit.objects.filter(customer=OuterRef("pk")).filter(
        Q(scheduled_at__gte=cutoff) | Q(done_at__gte=cutoff)
    )
    recent_contact = Interaction.objects.filter(
        customer=OuterRef("pk"),
        channel__in=Interaction.ONE_TO_ONE_CHANNELS,
        occurred_at__gte=cutoff,
    )
    return (
        Customer.objects.sensitive()
        .filter(manager__isnull=False, manager__is_active=True)
        .exclude(Exists(recent_visit))
        .exclude(Exists(recent_contact))
    )


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
    notifications_enqueue_many(drafts)
    return len(rows)


# --- Reads ---------------------------------------------------------------------------


def interaction_queryset(*, user: User) -> QuerySet[Interaction]:
    return (
        Interaction.objects.visible_to(user)
        .filter(customer__deleted_at__isnull=True)
        .select_related("customer", "staff")
    )


def visit_queryset(*, user: User) -> QuerySet[Visit]:
    return (
        Visit.objects.visible_to(user)
        .filter(customer__deleted_at__isnull=True)
        .select_related("customer", "staff")
    )


def visit_of(*, user: User, pk: int) -> Visit:
    """One visible visit; 404 when out of scope."""
    return get_object_or_404(visit_queryset(user=user), pk=pk)


def week_bounds(day: date) -> tuple[datetime, datetime]:
    monday = day - timedelta(days=day.weekday())
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, start + timedelta(days=7)


def visits_of_week(*, user: User, day: date | None = None) -> list[Visit]:
    """The user's own visits of the week holding `day` (Monday to Sunday), earliest first, one query."""
    start, end = week_bounds(day or timezone.localdate())
    return list(
        visit_queryset(user=user)
        .filter(staff=user, scheduled_at__gte=start, scheduled_at__lt=end)
        .order_by("scheduled_at", "id")
    )


def overdue_visits(*, user: User, day: date | None = None) -> list[Visit]:
    """The user's open visits planned before this week."""
    start, _end = week_bounds(day or timezone.localdate())
    return list(
        visit_queryset(user=user)
        .open()
        .filter(staff=user, scheduled_at__lt=start)
        .order_by("scheduled_at", "id")
    )


# --- Timeline -------------------------------------------------------------------------

TIMELINE_PAGE_SIZE = 20
# Order among entries with the same time: interactions, visits, group messages.
_KIND_RANK = {"interaction": 3, "visit": 2, "message": 1}


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    when: datetime
    pk: int
    obj: Any

    @property
    def cursor(self) -> str:
        return f"{self.when.isoformat()}|{self.kind}|{self.pk}"


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


def parse_timeline_cursor(value: str | None) -> tuple[datetime, str, int] | None:
    """`<iso time>|<kind>|<id>`; anything else means the first page."""
    if not value:
        return None
    try:
        when_text, kind, pk_text = value.split("|")
        when = datetime.fromisoformat(when_text)
        pk = int(pk_text)
    except ValueError:
        return None
    if kind not in _KIND_RANK or timezone.is_naive(when):
        return None
    return when, kind, pk


def _before(field: str, kind: str, cursor: tuple[datetime, str, int] | None) -> Q:
    """Entries of `kind` strictly after the cursor in (time desc, kind rank desc, id desc) order."""
    if cursor is None:
        return Q()
    when, cursor_kind, pk = cursor
    older = Q(**{f"{field}__lt": when})
    rank, cursor_rank = _KIND_RANK[kind], _KIND_RANK[cursor_kind]
    if rank < cursor_rank:
        return older | Q(**{field: when})
    if rank == cursor_rank:
        return older | Q(**{field: when, "pk__lt": pk})
    return older


def _group_messages(*, user: User, customer: Customer) -> QuerySet | None:
    """The customer's own messages in groups the user may see (via its contacts or the customer link)."""
    try:
        model = apps.get_model("groups", "GroupMessage")
    except LookupError:
        return None
    # The contacts' ids as a list (a customer has a handful): an OR across a
    # join, or with a subquery, hides from the planner that both sides are
    # indexed, and it reads every message of every visible group.
    contacts = list(Contact.objects.filter(customer=customer).values_list("pk", flat=True))
    messages = model.objects.filter(Q(customer=customer) | Q(sender_contact__in=contacts))
    if hasattr(messages, "visible_to"):
        messages = messages.visible_to(user)
    return messages.select_related("group")


def customer_timeline(
    *, user: User, customer: Customer, cursor: str | None = None, limit: int = TIMELINE_PAGE_SIZE
) -> TimelinePage:
    """Interactions, visits and group messages of one visible customer, newest first.

    Keyset-paginated on (time, kind, id); three queries whatever the page
    size. A visit sits at its completion time, or its planned time while open.
    """
    position = parse_timeline_cursor(cursor)
    entries: list[TimelineEntry] = []
    interactions = (
        interaction_queryset(user=user)
        .filter(customer=customer)
        .filter(_before("occurred_at", "interaction", position))
    )
    entries += [
        TimelineEntry("interaction", row.occurred_at, row.pk, row)
        for row in interactions.order_by("-occurred_at", "-id")[: limit + 1]
    ]
    visits = (
        visit_queryset(user=user)
        .filter(customer=customer)
        .annotate(timeline_at=Coalesce("done_at", "scheduled_at"))
        .filter(_before("timeline_at", "visit", position))
    )
    entries += [
        TimelineEntry("visit", row.timeline_at, row.pk, row)
        for row in visits.order_by("-timeline_at", "-id")[: limit + 1]
    ]
    messages = _group_messages(user=user, customer=customer)
    if messages is not None:
        messages = messages.filter(_before("sent_at", "message", position))
        entries += [
            TimelineEntry("message", row.sent_at, row.pk, row)
            for row in messages.order_by("-sent_at", "-id")[: limit + 1]
        ]
    entries.sort(key=lambda entry: (entry.when, _KIND_RANK[entry.kind], entry.pk), reverse=True)
    page = entries[:limit]
    next_cursor = page[-1].cursor if len(entries) > limit else None
    return TimelinePage(page, next_cursor)


# --- Forms ----------------------------------------------------------------------------


class CustomerNumberField(forms.CharField):
    """A customer picked by number among those the user may see."""

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        kwargs.setdefault("label", gettext_lazy("户号"))
        kwargs.setdefault("max_length", 13)
        kwargs.setdefault("error_messages", {"required": gettext_lazy("请填写户号。")})
        super().__init__(*args, **kwargs)

    def clean(self, value):
        number = super().clean(value).strip()
        customer = Customer.objects.visible_to(self.user).filter(number=number).first()
        if customer is None:
            raise ValidationError(_("未找到户号为 %(number)s 的客户，或您无权查看。") % {"number": number})
        return customer


class InteractionForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Interaction
        fields = [
            "channel",
            "direction",
            "occurred_at",
            "mood",
            "summary",
            "ticket_number",
            "next_follow_up",
            *Interaction.STEP_FIELDS,
        ]
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "next_follow_up": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "summary": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {"ticket_number": gettext_lazy("如已有工单，请填写工单编号。")}
        error_messages = {
            "channel": {"required": gettext_lazy("请选择联系渠道。")},
            "occurred_at": {
                "required": gettext_lazy("请填写联系时间。"),
                "invalid": gettext_lazy("联系时间格式不正确。"),
            },
            "summary": {"required": gettext_lazy("请填写联系内容。")},
        }

    def __init__(self, *args, user: User, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if customer is None:
            self.fields = {"customer": CustomerNumberField(user=user), **self.fields}
        self.initial.setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))
        self._style_widgets()

    def _post_clean(self):
        # The service validates the model; the form only parses input.
        pass

    def service_fields(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "customer"}


class VisitForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Visit
        fields = ["purpose", "scheduled_at", "prep_basics_reviewed", "prep_cause", "prep_solution"]
        widgets = {
            "scheduled_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "prep_cause": forms.Textarea(attrs={"rows": 2}),
            "prep_solution": forms.Textarea(attrs={"rows": 2}),
        }
        error_messages = {
            "purpose": {"required": gettext_lazy("请选择走访目的。")},
            "scheduled_at": {"required": gettext_lazy("请填写计划走访时间。")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()

    def _post_clean(self):
        pass


class VisitCompleteForm(StyledFormMixin, forms.Form):
    outcome = forms.CharField(
        label=gettext_lazy("走访结果"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": gettext_lazy("请填写走访结果。")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()
