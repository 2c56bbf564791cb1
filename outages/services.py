"""Outage workflows: create, publish (freezing who is affected), start,
estimate changes, restoration and cancellation, and the notice fan-out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, F, IntegerField, Max, Q, Value, Window
from django.db.models.functions import RowNumber
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import supervisor_chain
from core.parallel import in_parallel
from customers.models import Customer, District, Line, Visit, sensitive_q
from groups.models import BroadcastTopic, ServiceGroup
from groups.services.broadcasts import broadcasts_create_per_group
from notifications.models import Notification
from notifications.services import NotificationDraft, notifications_enqueue_many
from outages.models import AffectedCustomer, Outage, OutageBroadcast, OutageKind, OutageNotice, OutageStatus
from reach.models import ReachNotice
from reach.one_to_one import reach_notice_fanned_out
from reach.policy import Posts
from reach.services import reach_fan_out, reach_notice_open, reach_withdraw

logger = logging.getLogger(__name__)


class OutageConflict(ValidationError):
    """The outage's status does not allow this step (the same request may succeed in another status)."""


def scope_customers(*, line_ids, district_ids):
    """Customers in the scope of these lines and districts: a line includes every district
    on it and the customers fed by it directly.

    The ways in are a UNION, each read through its own index (the customers'
    district, the districts' line as a subquery so the planner starts from the
    few districts, the customers' line): an OR of them leaves PostgreSQL no
    index and it scans every customer.
    """
    customers = Customer._base_manager.order_by()
    on_lines = District.objects.filter(line_id__in=line_ids).values("pk")
    ways_in = (
        customers.filter(district_id__in=district_ids)
        .values("pk")
        .union(
            customers.filter(district_id__in=on_lines).values("pk"),
            customers.filter(line_id__in=line_ids).values("pk"),
        )
    )
    return Customer.objects.filter(pk__in=ways_in)


def live_affected_counts(outage_ids: list[int]) -> dict[int, int]:
    """Customers in the scope of each of these outages, counted live from the archive (the
    ways in of scope_customers, from the outages' own rows); one query for a whole list.

    Each way in starts from the outage's districts or lines and reaches the customers
    through their district or line index; the (outage, customer) pairs meet in a UNION,
    so a customer reached two ways counts once. An OR of the ways in, correlated to each
    outage, leaves PostgreSQL no index: it read every customer of the archive for each
    outage (about 0.6 s at a prefecture's million).
    """
    if not outage_ids:
        return {}
    customers = Customer.objects.order_by()
    ways = [
        customers.filter(**{f"{path}__in": outage_ids})
        .annotate(affected_outage=F(path))
        .values_list("affected_outage", "pk")
        for path in ("district__outages", "district__line__outages", "line__outages")
    ]
    sql, params = ways[0].union(*ways[1:]).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pairs.affected_outage, COUNT(*) FROM ({sql}) pairs GROUP BY 1", params)
        return dict(cursor.fetchall())


def outage_scope_customers(outage: Outage):
    return scope_customers(
        line_ids=outage.lines.values("pk"),
        district_ids=outage.districts.values("pk"),
    )


@dataclass(frozen=True)
class Impact:
    customers: int
    sensitive: int

    def __str__(self) -> str:
        return _("影响 %(total)s 户，其中敏感客户 %(sensitive)s 户") % {
            "total": f"{self.customers:,}",
            "sensitive": f"{self.sensitive:,}",
        }


def outage_impact(outage: Outage) -> Impact:
    """Before publishing: computed live from the archive; afterwards: the frozen rows."""
    if outage.published_at is not None:
        figures = outage.affected.aggregate(
            total=Count("pk"), sensitive=Count("pk", filter=Q(sensitive=True))
        )
    else:
        figures = outage_scope_customers(outage).aggregate(
            total=Count("pk"), sensitive=Count("pk", filter=sensitive_q())
        )
    return Impact(customers=figures["total"], sensitive=figures["sensitive"])


def _validate_times(kind, planned_start, planned_end, actual_start, errors: dict) -> None:
    if kind == OutageKind.PLANNED:
        if planned_start is None:
            errors["planned_start"] = _("计划停电必须填写计划开始时间。")
        if planned_end is None:
            errors["planned_end"] = _("计划停电必须填写计划结束时间。")
    if planned_start and planned_end and planned_end <= planned_start:
        errors["planned_end"] = _("计划结束时间必须晚于计划开始时间。")


@transaction.atomic
def outage_create(
    *,
    by: User,
    kind: str,
    reason: str,
    lines: list[Line] | None = None,
    districts: list[District] | None = None,
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
    actual_start: datetime | None = None,
    estimated_restoration: datetime | None = None,
    external_id: str | None = None,
) -> Outage:
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    lines, districts = list(lines or []), list(districts or [])
    if kind not in OutageKind.values:
        errors["kind"] = _("请选择停电类型。")
    if not reason:
        errors["reason"] = _("请填写停电原因。")
    if not lines and not districts:
        errors["lines"] = _("请至少选择一条线路或一个台区。")
    else:
        visible_lines = Line.objects.visible_to(by).filter(pk__in=[line.pk for line in lines]).count()
        visible_districts = District.objects.visible_to(by).filter(pk__in=[d.pk for d in districts]).count()
        if visible_lines != len({line.pk for line in lines}) or visible_districts != len(
            {d.pk for d in districts}
        ):
            errors["lines"] = _("只能选择您可见的线路和台区。")
    _validate_times(kind, planned_start, planned_end, actual_start, errors)
    external_id = (external_id or "").strip() or None
    if external_id and Outage.objects.filter(external_id=external_id).exists():
        errors["external_id"] = _("该外部编号已存在。")
    if not by.org_unit_id:
        errors["kind"] = _("您没有所属单位，不能登记停电。")
    if errors:
        raise ValidationError(errors)
    if kind != OutageKind.PLANNED and actual_start is None:
        actual_start = timezone.now()
    outage = Outage.objects.create(
        kind=kind,
        reason=reason,
        planned_start=planned_start,
        planned_end=planned_end,
        actual_start=actual_start if kind != OutageKind.PLANNED else None,
        estimated_restoration=estimated_restoration or planned_end,
        created_by=by,
        org_unit_id=by.org_unit_id,
        external_id=external_id,
    )
    outage.lines.set(lines)
    outage.districts.set(districts)
    return outage


def _freeze_affected(outage: Outage) -> int:
    """One INSERT … SELECT: the scope query's rows go straight into the frozen
    table, never through Python (100,000 customers in one statement)."""
    rows = (
        outage_scope_customers(outage)
        .annotate(
            frozen_outage=Value(outage.pk, output_field=IntegerField()),
            one_to_one=ExpressionWrapper(sensitive_q(), output_field=BooleanField()),
        )
        .order_by()
        .values_list("frozen_outage", "pk", "one_to_one")
    )
    select_sql, params = rows.query.sql_with_params()
    table = connection.ops.quote_name(AffectedCustomer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (outage_id, customer_id, sensitive) {select_sql} "
            "ON CONFLICT (outage_id, customer_id) DO NOTHING",
            params,
        )
        return cursor.rowcount


def _plan(outage: Outage, kind: str, due_at: datetime) -> OutageNotice:
    notice, _created = OutageNotice.objects.get_or_create(
        outage=outage, kind=kind, defaults={"due_at": due_at}
    )
    return notice


def _advance_days() -> list[int]:
    return list(settings.OUTAGE_ADVANCE_NOTICE_DAYS)


def _get_locked(outage: Outage) -> Outage:
    return Outage.objects.select_for_update().get(pk=outage.pk)


@transaction.atomic
def outage_publish(*, outage: Outage, by: User | None = None) -> Outage:
    """Freeze the affected customers and plan the notices; exactly once."""
    outage = _get_locked(outage)
    if outage.published_at is not None:
        raise OutageConflict(_("该停电已发布。"))
    if outage.status == OutageStatus.CANCELLED:
        raise OutageConflict(_("已取消的停电不能发布。"))
    now = timezone.now()
    _freeze_affected(outage)
    if outage.kind == OutageKind.PLANNED:
        days_ahead = _advance_days()
        for days in days_ahead:
            due = outage.planned_start - timedelta(days=days)
            if due > now:
                _plan(outage, f"advance-{days}d", due)
        # Published later than the last advance notice should go: tell them now.
        last = min(days_ahead, default=None)
        if last is not None and outage.planned_start - timedelta(days=last) <= now < outage.planned_start:
            _plan(outage, f"advance-{last}d", now)
        _plan(outage, OutageNotice.START, max(outage.planned_start, now))
        outage.status = OutageStatus.PUBLISHED
    else:
        _plan(outage, OutageNotice.START, now)
        outage.status = OutageStatus.ONGOING
    outage.published_at = now
    outage.save(update_fields=["published_at", "status"])
    return outage


@transaction.atomic
def outage_start(*, outage: Outage, by: User | None = None, at: datetime | None = None) -> Outage:
    outage = _get_locked(outage)
    if outage.published_at is None:
        raise OutageConflict(_("请先发布停电通知。"))
    if outage.status not in (OutageStatus.PUBLISHED, OutageStatus.PLANNED):
        raise OutageConflict(_("只有已通知的停电可以开始。"))
    outage.actual_start = at or timezone.now()
    outage.status = OutageStatus.ONGOING
    outage.save(update_fields=["actual_start", "status"])
    return outage


@transaction.atomic
def outage_update_estimate(
    *, outage: Outage, estimated_restoration: datetime, by: User | None = None
) -> Outage:
    """A new estimate of restoration; when it moves, the customers get a delay notice."""
    outage = _get_locked(outage)
    if outage.status in (OutageStatus.RESTORED, OutageStatus.CANCELLED):
        raise OutageConflict(_("已恢复或已取消的停电不能修改预计恢复时间。"))
    if estimated_restoration is None:
        raise ValidationError({"estimated_restoration": _("请填写预计恢复时间。")})
    if outage.estimated_restoration == estimated_restoration:
        return outage
    outage.estimated_restoration = estimated_restoration
    outage.save(update_fields=["estimated_restoration"])
    if outage.published_at is not None:
        count = outage.notices.filter(kind__startswith="delay-").count()
        _plan(outage, f"delay-{count + 1}", timezone.now())
    return outage


@transaction.atomic
def outage_restore(*, outage: Outage, by: User | None = None, at: datetime | None = None) -> Outage:
    outage = _get_locked(outage)
    if outage.status != OutageStatus.ONGOING:
        raise OutageConflict(_("只有停电中的停电可以恢复送电。"))
    now = timezone.now()
    outage.actual_end = at or now
    outage.status = OutageStatus.RESTORED
    outage.save(update_fields=["actual_end", "status"])
    _withdraw_unsent(outage, now)
    _plan(outage, OutageNotice.RESTORED, now)
    return outage


def _withdraw_unsent(outage: Outage, now: datetime) -> None:
    """Nothing said before restoration or cancellation goes out after it: every
    notice not yet fanned out is cancelled, and every reach record and outbox row
    of the notices already fanned out that has not gone out yet is withdrawn."""
    unsent = outage.notices.filter(fanned_out_at__isnull=True, cancelled_at__isnull=True)
    # A notice being fanned out: its batches under way finish first (their rows are then
    # withdrawn below), and none starts after.
    _hold_notices(unsent.values_list("pk", flat=True), exclusive=True)
    unsent.update(cancelled_at=now)
    notices = list(outage.notices.all())
    reach_withdraw(
        notice_keys=[reach_key(notice) for notice in notices],
        dedupe_prefixes=[notice.dedupe_prefix for notice in notices],
    )


@transaction.atomic
def outage_cancel(*, outage: Outage, by: User | None = None) -> Outage:
    """Cancel; notices not yet sent are dropped, and whoever was already told gets a cancellation."""
    outage = _get_locked(outage)
    if outage.status not in (OutageStatus.PLANNED, OutageStatus.PUBLISHED):
        raise OutageConflict(_("只有尚未开始的停电可以取消。"))
    now = timezone.now()
    told = outage.notices.filter(fanned_out_at__isnull=False).exists()
    _withdraw_unsent(outage, now)
    outage.status = OutageStatus.CANCELLED
    outage.save(update_fields=["status"])
    if told:
        _plan(outage, OutageNotice.CANCELLED, now)
    return outage


# --- Fan-out -------------------------------------------------------------------


def _claim_next(now: datetime) -> tuple[OutageNotice, str] | None:
    lease = timedelta(seconds=settings.OUTAGE_NOTICE_LEASE_SECONDS)
    with transaction.atomic():
        candidate = (
            OutageNotice.objects.due(now)
            .order_by("due_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
            .first()
        )
        if candidate is None:
            return None
        token = uuid.uuid4().hex
        claimed = (
            OutageNotice.objects.due(now)
            .filter(pk=candidate)
            .update(claimed_until=now + lease, claim_token=token)
        )
    if not claimed:
        return None
    return OutageNotice.objects.select_related("outage").get(pk=candidate), token


def _subject(notice: OutageNotice) -> str:
    outage = notice.outage
    fmt = "%Y-%m-%d %H:%M"

    def when(value):
        return timezone.localtime(value).strftime(fmt) if value else _("待定")

    if notice.kind.startswith("advance-") or notice.kind == OutageNotice.START:
        return _("【停电通知】%(kind)s：%(start)s 至 %(end)s，原因：%(reason)s") % {
            "kind": outage.get_kind_display(),
            "start": when(outage.actual_start or outage.planned_start),
            "end": when(outage.estimated_restoration or outage.planned_end),
            "reason": outage.reason,
        }
    if notice.kind.startswith("delay-"):
        return _("【停电通知】恢复送电时间调整为 %(end)s，给您带来不便，敬请谅解。") % {
            "end": when(outage.estimated_restoration)
        }
    if notice.kind == OutageNotice.RESTORED:
        return _("【恢复送电】您所在区域已于 %(end)s 恢复送电。") % {"end": when(outage.actual_end)}
    return _("【停电取消】原定 %(start)s 的停电已取消，供电正常。") % {"start": when(outage.planned_start)}


def reach_key(notice: OutageNotice) -> str:
    return f"outage_notice:{notice.pk}"


def _sms_kind(notice: OutageNotice) -> str:
    if notice.kind.startswith("advance-"):
        return "outage_advance"
    if notice.kind.startswith("delay-"):
        return "outage_delay"
    return {
        OutageNotice.START: "outage_start",
        OutageNotice.RESTORED: "outage_restored",
        OutageNotice.CANCELLED: "outage_cancelled",
    }.get(notice.kind, "")


def _sms_params(notice: OutageNotice) -> dict:
    outage = notice.outage
    fmt = "%Y-%m-%d %H:%M"

    def when(value):
        return timezone.localtime(value).strftime(fmt) if value else _("待定")

    return {
        "start": when(outage.actual_start or outage.planned_start),
        "end": when(outage.actual_end or outage.estimated_restoration or outage.planned_end),
        "reason": outage.reason[:20],
    }


def reach_notice_for(notice: OutageNotice) -> ReachNotice:
    """The notice as reach keeps it: its text, SMS template, and whether it is urgent
    (the start of a fault outage: high-sensitivity customers are phoned as well)."""
    outage = notice.outage
    return reach_notice_open(
        key=reach_key(notice),
        topic_key=f"outage:{outage.pk}",
        label=notice.kind_label,
        subject=_subject(notice),
        dedupe_prefix=notice.dedupe_prefix,
        sms_kind=_sms_kind(notice),
        sms_params=_sms_params(notice),
        # Advance notices are held through quiet hours; the others are news now.
        quiet=notice.kind.startswith("advance-"),
        urgent=outage.kind != OutageKind.PLANNED and notice.kind == OutageNotice.START,
    )


def notice_posts(notice: OutageNotice) -> Posts:
    """The notice's posts to WeCom-linked groups: only those can reach anyone."""
    rows = OutageBroadcast.objects.filter(notice=notice).exclude(group__external_id="")
    broadcasts, by_district, by_line = {}, {}, {}
    for group_id, broadcast_id, district_id, line_id in rows.order_by("group_id").values_list(
        "group_id", "broadcast_id", "group__district_id", "group__line_id"
    ):
        broadcasts[group_id] = broadcast_id
        if district_id:
            by_district.setdefault(district_id, group_id)
        if line_id:
            by_line.setdefault(line_id, group_id)
    return Posts(broadcasts, by_district, by_line)


def batch_bounds(notice: OutageNotice) -> list[int]:
    """The last customer id of each batch of the outage's affected customers, in order:
    read once for the whole fan-out (the frozen rows do not change), not by a keyset
    query per batch."""
    size = settings.OUTAGE_FAN_OUT_BATCH_SIZE
    affected = AffectedCustomer.objects.filter(outage_id=notice.outage_id)
    ends = list(
        affected.annotate(position=Window(RowNumber(), order_by=F("customer_id").asc()))
        .annotate(place=F("position") % size)
        .filter(place=0)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
    )
    last = affected.aggregate(last=Max("customer_id"))["last"]
    if last is not None and (not ends or ends[-1] != last):
        ends.append(last)
    return ends


def reach_batch(
    notice: OutageNotice,
    *,
    reach_notice: ReachNotice,
    posts: Posts,
    after_customer_id: int = 0,
    upto: int | None = None,
) -> tuple[int, int]:
    """One batch of the affected customers (after `after_customer_id`, up to `upto`
    included when the bounds are known — `batch_bounds` —, else the next batch), each
    with its reach record and the outbox row it rides on (reach/policy.py decides);
    returns (the last customer id seen, records written) — (0, 0) when done."""
    if upto is None:
        customer_ids = list(
            AffectedCustomer.objects.filter(outage_id=notice.outage_id, customer_id__gt=after_customer_id)
            .order_by("customer_id")
            .values_list("customer_id", flat=True)[: settings.OUTAGE_FAN_OUT_BATCH_SIZE]
        )
        if not customer_ids:
            return 0, 0
        upto = customer_ids[-1]
    # The batch as a range of the outage's customers: the set-based writes read it as a
    # subquery rather than a list of thousands of parameters.
    batch = AffectedCustomer.objects.filter(
        outage_id=notice.outage_id, customer_id__gt=after_customer_id, customer_id__lte=upto
    ).values("customer_id")
    written = reach_fan_out(
        notice=reach_notice, customer_ids=batch, posts=posts, within=(after_customer_id, upto)
    )
    return upto, written


def notice_fan_out(notice: OutageNotice, token: str) -> int:
    """Send one claimed notice; returns the reach records written.

    The group posts go first (so the policy knows which groups reached whom),
    then every affected customer in batches, each its own transaction (on
    PostgreSQL OUTAGE_FAN_OUT_THREADS of them at once, each on its own connection). A worker
    killed half-way leaves the notice claimed until its lease ends, and the
    next run repeats the batches: records are unique per customer and outbox
    rows carry dedupe keys. A notice cancelled meanwhile (restoration) stops
    at the next batch."""
    with translation.override(settings.LANGUAGE_CODE):
        with transaction.atomic():
            broadcasts = _broadcast(notice)
            reach_notice = reach_notice_for(notice)
        posts = notice_posts(notice)
        bounds = batch_bounds(notice)
        counts = []

        def one_batch(batch: tuple[int, int]) -> bool:
            after, upto = batch
            with transaction.atomic():
                if not _still_to_send(notice):
                    return False
                _last, count = reach_batch(
                    notice, reach_notice=reach_notice, posts=posts, after_customer_id=after, upto=upto
                )
            counts.append(count)
            return True

        # The batches are independent (disjoint customers, records and outbox keys unique
        # per customer): on PostgreSQL several at once, each its own transaction.
        finished = in_parallel(
            zip([0, *bounds], bounds, strict=False), one_batch, threads=settings.OUTAGE_FAN_OUT_THREADS
        )
        written = sum(counts)
        if not finished:
            return written
        with transaction.atomic():
            OutageNotice.objects.filter(pk=notice.pk, claim_token=token, fanned_out_at__isnull=True).update(
                fanned_out_at=timezone.now(),
                claimed_until=None,
                personal_count=Notification.objects.filter(
                    dedupe_key__startswith=notice.dedupe_prefix
                ).count(),
                broadcast_count=broadcasts,
            )
            reach_notice_fanned_out(notice=reach_notice)
    return written


# The advisory lock of a notice's fan-out on PostgreSQL: (this class, the notice's id).
_FAN_OUT_LOCK = 7301


def _hold_notices(notice_ids, *, exclusive: bool) -> None:
    """Hold the notices' fan-out lock until the transaction ends: shared by each batch (the
    batches of a notice run at once), exclusive by whoever cancels a notice. Unlike a row
    lock, a shared request queues behind a waiting exclusive one, so a restoration waits
    only for the batches under way, not for every batch that would overlap them."""
    if connection.vendor != "postgresql":
        return  # SQLite runs one writing transaction at a time
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    with connection.cursor() as cursor:
        for notice_id in sorted(notice_ids):
            cursor.execute(f"SELECT {function}(%s, %s)", [_FAN_OUT_LOCK, notice_id])


def _still_to_send(notice: OutageNotice) -> bool:
    """Whether the notice is still to be sent (not cancelled by a restoration or a
    cancellation), its fan-out lock held by the batch's transaction: a cancellation waits
    for the batches under way and then withdraws what they wrote."""
    _hold_notices([notice.pk], exclusive=False)
    return OutageNotice.objects.filter(pk=notice.pk, cancelled_at__isnull=True).exists()


def notice_groups(notice: OutageNotice):
    """Active service groups of the affected districts and lines."""
    outage = notice.outage
    line_ids = outage.lines.values("pk")
    district_ids = outage.affected.filter(customer__district__isnull=False).values("customer__district_id")
    return ServiceGroup.objects.active().filter(
        Q(district_id__in=outage.districts.values("pk"))
        | Q(district_id__in=district_ids)
        | Q(district__line_id__in=line_ids)
        | Q(line_id__in=line_ids)
    )


def _broadcast(notice: OutageNotice) -> int:
    """One broadcast per service group, from the group's owner; once per notice. All the
    groups at once (groups.services.broadcasts.broadcasts_create_per_group)."""
    done = set(notice.broadcasts.values_list("group_id", flat=True))
    groups = list(notice_groups(notice).exclude(pk__in=done).select_related("owner__org_unit").order_by("pk"))
    if not groups:
        return len(done)
    try:
        sent = broadcasts_create_per_group(
            topic=BroadcastTopic.OUTAGE, title=notice.kind_label, body=_subject(notice), groups=groups
        )
    except ValidationError:
        logger.warning("Outage notice %s: its groups cannot take a broadcast", notice.pk)
        return len(done)
    for group_id in sent.refused:
        logger.warning("Outage notice %s: group %s cannot take a broadcast", notice.pk, group_id)
    OutageBroadcast.objects.bulk_create(
        [
            OutageBroadcast(notice=notice, group_id=group_id, broadcast=broadcast)
            for group_id, broadcast in sent.broadcasts.items()
        ]
    )
    return len(done) + len(sent.broadcasts)


def fan_out_due(*, now: datetime | None = None, limit: int = 50) -> int:
    """Fan out every due notice (beat, every minute); returns how many were sent."""
    now = now or timezone.now()
    done = 0
    for _round in range(limit):
        claim = _claim_next(now)
        if claim is None:
            break
        notice, token = claim
        notice_fan_out(notice, token)
        done += 1
    return done


# --- Long outages: the manager goes on site (seed 001 §3) -------------------------------


def long_outage_scan(*, now: datetime | None = None) -> int:
    """Fault outages running longer than OUTAGE_LONG_HOURS: one on-site visit per
    affected district with residential customers, attached to the district (not
    to one of its customers), for the district's manager, who is told in the app
    (and through WeCom where reminders go there), and a notice to their
    supervisor; once per outage and district."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.OUTAGE_LONG_HOURS)
    outage_ids = list(
        Outage.objects.filter(
            kind__in=[OutageKind.FAULT, OutageKind.TEMPORARY],
            status=OutageStatus.ONGOING,
            actual_start__lte=cutoff,
            long_outage_checked_at__isnull=True,
        ).values_list("pk", flat=True)[:100]
    )
    if not outage_ids:
        return 0
    chain = supervisor_chain()
    created = 0
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        rows = (
            AffectedCustomer.objects.filter(
                outage_id__in=outage_ids,
                customer__kind=Customer.Kind.RESIDENT,
                customer__district__manager__isnull=False,
            )
            .values(
                "outage_id",
                "customer__district_id",
                "customer__district__name",
                "customer__district__manager_id",
                "customer__district__station__path",
            )
            .annotate(residents=Count("customer_id"))
        )
        rows = list(rows)
        visits = [
            Visit(
                customer=None,
                district_id=row["customer__district_id"],
                staff_id=row["customer__district__manager_id"],
                purpose=Visit.Purpose.OUTAGE,
                scheduled_at=now,
                prep_cause=_("台区“%(district)s”长时间停电，请到现场服务。")
                % {"district": row["customer__district__name"]},
                origin_key=f"outage:{row['outage_id']}:district:{row['customer__district_id']}",
            )
            for row in rows
        ]
        keys = [visit.origin_key for visit in visits]
        existing = set(Visit.objects.filter(origin_key__in=keys).values_list("origin_key", flat=True))
        fresh = [visit for visit in visits if visit.origin_key not in existing]
        Visit.objects.bulk_create(fresh, ignore_conflicts=True)
        created = len(fresh)
        drafts = []
        for row in rows:
            district_key = f"outage:{row['outage_id']}:district:{row['customer__district_id']}"
            drafts.append(
                NotificationDraft(
                    dedupe_key=f"{district_key}:visit",
                    subject=_(
                        "台区“%(district)s”停电已超过 %(hours)s 小时，请到现场服务（%(count)s 户居民）。"
                    )
                    % {
                        "district": row["customer__district__name"],
                        "hours": settings.OUTAGE_LONG_HOURS,
                        "count": row["residents"],
                    },
                    recipient_id=row["customer__district__manager_id"],
                    link=f"/outages/{row['outage_id']}/",
                )
            )
            levels = chain(row["customer__district__station__path"])
            for supervisor_id in levels[0] if levels else []:
                drafts.append(
                    NotificationDraft(
                        dedupe_key=(
                            f"outage:{row['outage_id']}:district:{row['customer__district_id']}"
                            f":supervisor:{supervisor_id}"
                        ),
                        subject=_("台区“%(district)s”停电已超过 %(hours)s 小时，已安排客户经理现场服务。")
                        % {"district": row["customer__district__name"], "hours": settings.OUTAGE_LONG_HOURS},
                        recipient_id=supervisor_id,
                    )
                )
        if drafts:
            notifications_enqueue_many(drafts)
        Outage.objects.filter(pk__in=outage_ids).update(long_outage_checked_at=now)
    return created


def outages_start_due(*, now: datetime | None = None) -> int:
    """Published planned outages whose planned start has passed are under way
    (nobody has to click "start" at 08:00); returns how many started."""
    now = now or timezone.now()
    return Outage.objects.filter(
        kind=OutageKind.PLANNED, status=OutageStatus.PUBLISHED, planned_start__lte=now
    ).update(status=OutageStatus.ONGOING, actual_start=F("planned_start"))
