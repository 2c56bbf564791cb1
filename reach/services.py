"""Reach: writing who is told what, following each channel, falling back once.

The policy (which channel for whom) is reach/policy.py; this module writes it.

- `reach_notice_open` keeps a notice's text; `reach_fan_out` decides and writes,
  for one batch of customers, one ReachRecord each and the outbox rows they
  ride on, in the caller's transaction. Records are unique per (notice,
  customer) and inserted with ON CONFLICT DO NOTHING, outbox rows carry dedupe
  keys, so a worker killed mid fan-out repeats the batch and adds nothing twice.
- Hooks for the WeCom sends that are confirmed in WeCom:
  `reach_group_post_state(broadcast_id=, group_id=, state=, reason=)` — a 企业群发
  of a group reached its members ("sent"), will not ("not_sent", e.g. refused at
  the group's monthly limit: the reason says so) or is still waiting for the
  owner ("waiting"); `reach_personal_wecom_state(notice_key=, customer_id=,
  state=, reason=)` — the same for a one-to-one send. "not_sent" falls back at once.
- WeCom one-to-one sends (the records' tasks, their send results): reach/one_to_one.py.
- `reach_refresh` (beat, REACH_REFRESH_SECONDS): SMS and e-mail records follow
  their outbox row (SMS: the provider's delivery_status), group posts and WeCom
  one-to-one sends still waiting after REACH_GROUP_POST_DEADLINE_MINUTES count
  as not sent; every record that failed falls back to the next channel, once.
- `reach_withdraw` (a restored or cancelled outage): outbox rows not yet sent
  become WITHDRAWN (final, never retried) and the records riding on them, or
  on nothing sent yet, 已撤回.
- `reach_call_record`: the outcome of a phone call (已告知 / 未接通 / 号码错误);
  a wrong number flags the contact in the archive for correction.
- `reach_acceptance`: the acceptance SMS of a complaint or repair order.
- `reach_broadcast_adopt` (on groups.signals.broadcast_published, in the publishing
  transaction; `reach_broadcasts_adopt` in `reach_refresh` catches up): the important
  customers of a broadcast (群发) get their records from the personal notices the
  broadcast wrote, and a call task (or 无法触达) when it could write none.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Contact, Customer
from customers.services import customer_refresh_completeness
from groups.models import Broadcast, GroupPost, GroupPostState
from groups.services.broadcasts import important_contacts
from notifications.models import Notification
from notifications.services import (
    NotificationDraft,
    notifications_enqueue_many,
    notifications_enqueue_select,
    notifications_insert_select,
    notifications_withdraw,
)
from reach import one_to_one, policy
from reach.models import CallState, Channel, ReachNotice, ReachRecord, Reason, State

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
OPEN_STATES = (State.WAITING, State.QUEUED, State.SUBMITTED)


@transaction.atomic
def reach_notice_open(
    *,
    key: str,
    topic_key: str,
    label: str,
    subject: str,
    dedupe_prefix: str,
    sms_kind: str = "",
    sms_params: dict | None = None,
    quiet: bool = False,
    urgent: bool = False,
) -> ReachNotice:
    """The notice's row, written once; a second call returns the first row unchanged."""
    notice, _created = ReachNotice.objects.get_or_create(
        key=key,
        defaults={
            "topic_key": topic_key,
            "label": str(label)[:100],
            "subject": str(subject)[:200],
            "dedupe_prefix": dedupe_prefix,
            "sms_kind": sms_kind,
            "sms_params": {name: str(value) for name, value in (sms_params or {}).items()},
            "quiet": quiet,
            "urgent": urgent,
        },
    )
    return notice


def _outbox_key(notice: ReachNotice, customer_id: int, *, fallback: bool = False) -> str:
    return f"{notice.dedupe_prefix}customer:{customer_id}" + (":fallback" if fallback else "")


def _outbox_draft(notice: ReachNotice, choice: policy.Choice, customer_id: int, *, fallback: bool):
    contact = choice.contact
    if choice.channel == Channel.SMS:
        channel, address = Notification.Channel.SMS, contact["mobile"]
    elif choice.channel == Channel.EMAIL:
        channel, address = Notification.Channel.EMAIL, contact["email"]
    else:
        return None
    return NotificationDraft(
        dedupe_key=_outbox_key(notice, customer_id, fallback=fallback),
        subject=notice.subject,
        channel=channel,
        address=address,
        recipient_label=contact["name"],
        template_kind=notice.sms_kind if channel == Notification.Channel.SMS else "",
        template_params=notice.sms_params if channel == Notification.Channel.SMS else None,
        quiet=notice.quiet,
    )


def _record_fields(choice: policy.Choice, now: datetime) -> dict:
    return {
        "channel": choice.channel,
        "reason": choice.reason,
        "state": choice.state,
        "contact_id": choice.contact["id"] if choice.contact else None,
        "group_id": choice.group_id,
        "broadcast_id": choice.broadcast_id,
        "call_state": choice.call_state,
        "call_assignee_id": choice.call_assignee_id,
        "state_changed_at": now,
    }


def _write_outbox(drafts: dict[int, NotificationDraft]) -> dict[int, int]:
    """Enqueue the drafts (customer id → draft); customer id → the outbox row's id."""
    if not drafts:
        return {}
    notifications_enqueue_many(drafts.values())
    ids = dict(
        Notification.objects.filter(
            dedupe_key__in=[draft.dedupe_key for draft in drafts.values()]
        ).values_list("dedupe_key", "pk")
    )
    return {customer_id: ids.get(draft.dedupe_key) for customer_id, draft in drafts.items()}


def reach_fan_out(
    *,
    notice: ReachNotice,
    customer_ids,
    posts: policy.Posts | None = None,
    within: tuple[int, int] | None = None,
) -> int:
    """Decide and write the reach of one batch of customers (`customer_ids`: a list, or
    a subquery of ids — no long parameter lists then; `within`: the (exclusive, inclusive)
    bounds of their ids when known, so the database reads that range of the customers
    rather than hashing the whole table) in the caller's transaction;
    returns the records written. The group-covered majority is one INSERT … SELECT
    (the policy's `group_covered`), the SMS two more (`sms_only`: outbox rows, then
    records); on PostgreSQL those three are one statement (`_insert_set_based`). The
    few left (e-mail, WeCom one-to-one, no mobile) go through `policy.choose` one by
    one. About ten queries a batch (two more plus one per manager when some go WeCom
    one-to-one), whatever the number of contacts."""
    posts = posts or policy.Posts.none()
    now = timezone.now()
    wecom = one_to_one.wecom_ready()
    if connection.vendor == "postgresql":
        written, todo = _insert_set_based(
            notice, _not_written(notice, customer_ids, within), posts, wecom, now
        )
    else:
        written = _insert_group_covered(notice, customer_ids, posts, now)
        written += _insert_sms_only(notice, _not_written(notice, customer_ids, within), wecom, now)
        todo = list(_not_written(notice, customer_ids, within))
    if not todo:
        return written
    customers = policy.customer_rows(todo)
    contacts = policy.contact_rows(todo)
    choices: dict[int, policy.Choice] = {}
    drafts: dict[int, NotificationDraft] = {}
    for customer_id in todo:
        customer = customers.get(customer_id)
        if customer is None:  # deleted since the outage froze it
            continue
        # Whoever a group post reaches has its record already: no group is left for the rest.
        choice = policy.choose(
            customer,
            contacts.get(customer_id, []),
            posts=policy.Posts.none(),
            members={},
            urgent=notice.urgent,
            wecom=wecom,
        )
        choices[customer_id] = choice
        if (draft := _outbox_draft(notice, choice, customer_id, fallback=False)) is not None:
            drafts[customer_id] = draft
    outbox = _write_outbox(drafts)
    records = [
        ReachRecord(
            notice=notice,
            customer_id=customer_id,
            station_id=customers[customer_id]["station_id"],
            notification_id=outbox.get(customer_id),
            **_record_fields(choice, now),
        )
        for customer_id, choice in choices.items()
    ]
    ReachRecord.objects.bulk_create(records, ignore_conflicts=True)
    one_to_one.personal_posts_attach(
        notice=notice,
        senders={
            customer_id: choice.sender
            for customer_id, choice in choices.items()
            if choice.channel == Channel.WECOM and choice.sender
        },
    )
    return written + len(records)


def _not_written(notice: ReachNotice, customer_ids, within: tuple[int, int] | None = None):
    """The ids of the customers of `customer_ids` (a list, or a subquery of ids) without a
    record of the notice yet; customers deleted since are left out, as `choose` leaves them."""
    written = ReachRecord.objects.filter(notice=notice, customer_id=OuterRef("pk"))
    customers = Customer.all_objects.filter(pk__in=customer_ids)
    if within is not None:
        customers = customers.filter(pk__gt=within[0], pk__lte=within[1])
    return customers.exclude(Exists(written)).order_by("pk").values_list("pk", flat=True)


def _materialized() -> str:
    """A CTE the statement reads once per row: PostgreSQL would otherwise inline it and
    evaluate its per-customer subqueries again for every column that names them (SQLite
    reads it the same way without the hint)."""
    return "MATERIALIZED " if connection.vendor == "postgresql" else ""


# The outbox key of an SMS-only customer `c`, as `_outbox_key` spells it: <prefix>customer:<id>.
_SMS_KEY = "(%s || CAST(c.pk AS VARCHAR(20)))"


def _sms_key_params(notice: ReachNotice) -> list:
    return [f"{notice.dedupe_prefix}customer:"]


def _sms_prototype(notice: ReachNotice) -> NotificationDraft:
    """The outbox row of every set-based SMS of the notice but its key, address and name."""
    return _outbox_draft(
        notice,
        policy.Choice(Channel.SMS, Reason.NO_GROUP, State.QUEUED, contact={"mobile": "0", "name": ""}),
        0,
        fallback=False,
    )


def _sms_outbox_select(*, with_ids: bool = False) -> str:
    """Key, address and name of the outbox rows of the SMS-only customers `c` (and their
    ids, `c.outbox_id`, `with_ids`). The contact's fields are looked up row by row through
    its primary key (scalar subqueries), not joined: a join lets the planner hash the
    whole contact table for every batch."""
    contact = connection.ops.quote_name(Contact._meta.db_table)
    return (
        "SELECT " + ("c.outbox_id AS id, " if with_ids else "") + f"{_SMS_KEY} AS dedupe_key, "
        f"(SELECT ct.mobile FROM {contact} ct WHERE ct.id = c.sms_contact) AS address, "
        f"(SELECT ct.name FROM {contact} ct WHERE ct.id = c.sms_contact) AS recipient_label "
        "FROM c"
    )


def _insert_sms_only(notice: ReachNotice, customer_ids, wecom: bool, now) -> int:
    """The SMS-only customers of the batch (the policy's `sms_only`), set-based: their
    outbox rows (one per customer, keyed as `_outbox_key`), then their records riding on
    them. Both inserts skip what is there, so a repeated batch adds nothing."""
    chosen, chosen_params = policy.sms_only(
        customer_ids, wecom=wecom, urgent=notice.urgent
    ).query.sql_with_params()
    key = _SMS_KEY
    key_params = _sms_key_params(notice)
    # The outbox row is looked up by its unique key (a scalar subquery), not joined: the
    # outbox keeps growing.
    notifications_enqueue_select(
        prototype=_sms_prototype(notice),
        select=f"WITH c AS {_materialized()}({chosen}) {_sms_outbox_select()}",
        params=[*chosen_params, *key_params],
    )
    outbox = connection.ops.quote_name(Notification._meta.db_table)
    # Only customers whose outbox row is there: `chosen` is read again, and a contact
    # changed in between must not leave an SMS record riding on nothing (the customer
    # then goes through `choose` with the few left).
    # The WITH inside the INSERT: Python's sqlite3 counts no rows for a statement that starts with it.
    records, records_params = _sms_records_select(notice, now)
    sql = (
        f"INSERT INTO {_records_table()} ({_SMS_RECORD_COLUMNS}) "
        f"WITH c AS {_materialized()}({chosen}), "
        f"r AS {_materialized()}(SELECT c.pk, c.station_id, c.sms_contact, c.one_to_one, c.call_assignee, "
        f"(SELECT n.id FROM {outbox} n WHERE n.dedupe_key = {key}) AS notification_id FROM c) "
        f"{records} ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*chosen_params, *key_params, *records_params])
        return max(cursor.rowcount, 0)


def _records_table() -> str:
    return connection.ops.quote_name(ReachRecord._meta.db_table)


_SMS_RECORD_COLUMNS = (
    "notice_id, customer_id, station_id, contact_id, channel, reason, state, notification_id, "
    "fallback_from, state_reason, call_state, call_assignee_id, created_at, state_changed_at"
)


def _sms_records_select(notice: ReachNotice, now) -> tuple[str, list]:
    """The records (`_SMS_RECORD_COLUMNS`) of the SMS customers `r` (the policy's `sms_only`
    columns and notification_id) whose outbox row is known."""
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (
        "SELECT %s, r.pk, r.station_id, r.sms_contact, %s, "
        "CASE WHEN r.one_to_one THEN %s ELSE %s END, %s, r.notification_id, '', '', "
        "CASE WHEN r.call_assignee IS NOT NULL THEN %s ELSE %s END, r.call_assignee, %s, %s "
        "FROM r WHERE r.notification_id IS NOT NULL"
    )
    params = [
        notice.pk,
        Channel.SMS.value,
        Reason.SENSITIVE_PERSONAL.value,
        Reason.NO_GROUP.value,
        State.QUEUED.value,
        CallState.PENDING.value,
        CallState.NONE.value,
        at,
        at,
    ]
    return sql, params


_GROUP_RECORD_COLUMNS = (
    "notice_id, customer_id, station_id, channel, reason, state, group_id, broadcast_id, "
    "fallback_from, state_reason, call_state, created_at, state_changed_at"
)


def _group_records_select(notice: ReachNotice, posts: policy.Posts, now) -> tuple[str, list]:
    """The group-post records (`_GROUP_RECORD_COLUMNS`) of the customers `g` (the rows of
    the policy's `group_covered`) a posted group covers."""
    # Broadcast of the covering group: a CASE over the notice's posts (ids only, as parameters).
    broadcast = " ".join("WHEN %s THEN %s" for _post in posts.broadcasts)
    broadcast_params = [value for pair in posts.broadcasts.items() for value in pair]
    at = connection.ops.adapt_datetimefield_value(now)
    sql = (
        "SELECT %s, g.pk, g.station_id, %s, "
        "CASE WHEN g.member_group IS NOT NULL THEN %s ELSE %s END, %s, "
        "COALESCE(g.member_group, g.area_group), "
        f"CASE COALESCE(g.member_group, g.area_group) {broadcast} END, "
        "'', '', '', %s, %s "
        "FROM g "
        "WHERE COALESCE(g.member_group, g.area_group) IS NOT NULL"
    )
    params = [
        notice.pk,
        Channel.GROUP.value,
        Reason.GROUP_MEMBER.value,
        Reason.GROUP_AREA.value,
        State.WAITING.value,
        *broadcast_params,
        at,
        at,
    ]
    return sql, params


def _insert_group_covered(notice: ReachNotice, customer_ids, posts: policy.Posts, now) -> int:
    """The group-post records of the batch's customers a posted group covers, written by
    the database in one INSERT … SELECT (portable SQL: PostgreSQL and SQLite); the
    records already there are left alone (ON CONFLICT DO NOTHING). Returns how many."""
    covered = policy.group_covered(customer_ids, posts)
    if covered is None:
        return 0
    select, select_params = covered.query.sql_with_params()
    records, records_params = _group_records_select(notice, posts, now)
    sql = (
        f"INSERT INTO {_records_table()} ({_GROUP_RECORD_COLUMNS}) "
        f"WITH g AS {_materialized()}({select}) "
        f"{records} ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, *records_params])
        return max(cursor.rowcount, 0)


def _posts_key(posts: policy.Posts) -> tuple:
    return tuple(tuple(sorted(ids.items())) for ids in (posts.broadcasts, posts.by_district, posts.by_line))


@functools.lru_cache(maxsize=32)
def _set_based_selects(posts_key: tuple, *, wecom: bool, urgent: bool) -> tuple:
    """The policy's two selects in `_insert_set_based`, compiled — (sql, params) of
    `group_covered` (None without posts) and of `sms_only` — over the CTEs `t` (the batch)
    and `g` (the group-covered): the same for every batch of a notice, and building them
    (a CASE over every posted group's districts and lines) cost more than a batch's
    decisions in the database."""
    posts = policy.Posts(*(dict(items) for items in posts_key))
    rest = "SELECT t.pk FROM t"
    covered = policy.group_covered(RawSQL(rest, []), posts)
    if covered is not None:
        covered = covered.query.sql_with_params()
        rest += (
            " WHERE t.pk NOT IN (SELECT g.pk FROM g WHERE COALESCE(g.member_group, g.area_group) IS NOT NULL)"
        )
    chosen = policy.sms_only(RawSQL(rest, []), wecom=wecom, urgent=urgent).query.sql_with_params()
    return covered, chosen


def _insert_set_based(
    notice: ReachNotice, todo, posts: policy.Posts, wecom: bool, now
) -> tuple[int, list[int]]:
    """PostgreSQL: what `_insert_group_covered` and `_insert_sms_only` write, in one statement
    (data-modifying CTEs), so that the batch's customers without a record (`todo`, a
    queryset of ids), the group-covered ones and the SMS-only ones are each read once.
    Returns (records written, the ids of `todo` still without a record, in order): those
    go through `choose`.

    The outbox rows come back from their INSERT (RETURNING); a row already there (a
    batch repeated after a partial write) is not returned and is looked up by its key.
    One a concurrent writer is inserting stays invisible to the statement: that
    customer gets no SMS record here and goes through `choose`, as on the portable path."""
    quote = connection.ops.quote_name
    todo_sql, todo_params = todo.query.sql_with_params()
    # Every join below is a hashed NOT IN / IN or a lookup by primary key or unique key:
    # the planner's estimates of the CTEs are poor (often one row), and a nested loop
    # over two CTEs of thousands of rows would be quadratic.
    sql = [f"WITH t (pk) AS MATERIALIZED ({todo_sql})"]
    params = [*todo_params]
    inserts = []
    covered, chosen = _set_based_selects(_posts_key(posts), wecom=wecom, urgent=notice.urgent)
    if covered is not None:
        select, select_params = covered
        records, records_params = _group_records_select(notice, posts, now)
        sql.append(f"g AS MATERIALIZED ({select})")
        sql.append(
            f"rg AS (INSERT INTO {_records_table()} ({_GROUP_RECORD_COLUMNS}) {records} "
            "ON CONFLICT DO NOTHING RETURNING customer_id)"
        )
        params += [*select_params, *records_params]
        inserts.append("rg")
    chosen, chosen_params = chosen
    outbox = notifications_insert_select(
        prototype=_sms_prototype(notice),
        select=_sms_outbox_select(with_ids=True),
        params=_sms_key_params(notice),
        with_ids=True,
    )
    records, records_params = _sms_records_select(notice, now)
    table = Notification._meta.db_table
    # Each SMS-only customer's outbox row id is drawn beforehand: the row inserted keeps
    # it; where the key was there already (a repeated batch), the row there is looked up.
    sql.append(
        f"c AS MATERIALIZED (SELECT c0.*, nextval(pg_get_serial_sequence(%s, 'id')) AS outbox_id "
        f"FROM ({chosen}) c0)"
    )
    sql.append(f"n AS ({outbox.sql} RETURNING id)")
    sql.append(
        "r AS (SELECT c.pk, c.station_id, c.sms_contact, c.one_to_one, c.call_assignee, "
        "CASE WHEN c.outbox_id IN (SELECT n.id FROM n) "
        f"THEN c.outbox_id ELSE (SELECT o.id FROM {quote(table)} o WHERE o.dedupe_key = {_SMS_KEY}) END "
        "AS notification_id FROM c)"
    )
    sql.append(
        f"rs AS (INSERT INTO {_records_table()} ({_SMS_RECORD_COLUMNS}) {records} "
        "ON CONFLICT DO NOTHING RETURNING customer_id)"
    )
    params += [table, *chosen_params, *outbox.params, *_sms_key_params(notice), *records_params]
    inserts.append("rs")
    done = " UNION ALL ".join(f"SELECT customer_id FROM {name}" for name in inserts)
    statement = (
        ", ".join(sql) + f", done AS MATERIALIZED ({done}) "
        "SELECT (SELECT COUNT(*) FROM n), (SELECT COUNT(*) FROM done), "
        "ARRAY(SELECT t.pk FROM t WHERE t.pk NOT IN (SELECT customer_id FROM done) ORDER BY t.pk)"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        outbox_rows, written, left = cursor.fetchone()
    outbox.written(outbox_rows)
    return written, list(left)


# --- following the channels -----------------------------------------------------------


def _set_state(records, state: str, now: datetime, **fields) -> int:
    changes = {"state": state, "state_changed_at": now, **fields}
    if state == State.REACHED:
        changes["reached_at"] = now
    return records.update(**changes)


@transaction.atomic
def reach_group_post_state(*, broadcast_id: int, group_id: int, state: str, reason: str = "") -> int:
    """A WeCom group post's state for the records riding on it: "sent" reaches them,
    "not_sent" fails them and falls back at once, "waiting" changes nothing.
    Returns how many records changed."""
    records = ReachRecord.objects.filter(
        broadcast_id=broadcast_id, group_id=group_id, channel=Channel.GROUP, state=State.WAITING
    )
    return _apply_wecom_state(records, state, reason)


@transaction.atomic
def reach_personal_wecom_state(*, notice_key: str, customer_id: int, state: str, reason: str = "") -> int:
    """The same hook for a WeCom one-to-one send to one customer's contact."""
    records = ReachRecord.objects.filter(
        notice__key=notice_key, customer_id=customer_id, channel=Channel.WECOM, state=State.WAITING
    )
    return _apply_wecom_state(records, state, reason)


def _apply_wecom_state(records, state: str, reason: str) -> int:
    if state not in ("waiting", "sent", "not_sent"):
        raise ValidationError({"state": _("状态只能是 waiting、sent 或 not_sent。")})
    now = timezone.now()
    if state == "waiting":
        return 0
    if state == "sent":
        return _set_state(records, State.REACHED, now)
    ids = list(records.values_list("pk", flat=True))
    _set_state(ReachRecord.objects.filter(pk__in=ids), State.FAILED, now, state_reason=str(reason)[:200])
    fall_back(ReachRecord.objects.filter(pk__in=ids))
    return len(ids)


def _follow_outbox(now: datetime, scope: Q | None = None) -> None:
    """SMS and e-mail records (of `scope`, else all) take their outbox row's state; a few UPDATEs."""
    riding = ReachRecord.objects.filter(state__in=[State.QUEUED, State.SUBMITTED], notification__isnull=False)
    if scope is not None:
        riding = riding.filter(scope)
    sms = riding.filter(channel=Channel.SMS)
    email = riding.filter(channel=Channel.EMAIL)
    failed = Q(notification__status__in=[Notification.Status.FAILED, Notification.Status.SKIPPED])
    delivery = Notification.DeliveryStatus
    _set_state(sms.filter(notification__delivery_status=delivery.DELIVERED), State.REACHED, now)
    # A failed receipt is final; so is an outbox row that gave up (or was never configured).
    sms_failed = failed | Q(notification__delivery_status=delivery.FAILED)
    submitted = Q(notification__status=Notification.Status.SENT) & ~Q(
        notification__delivery_status=delivery.DELIVERED
    )
    _set_state(sms.filter(sms_failed), State.FAILED, now)
    _set_state(sms.filter(submitted).filter(state=State.QUEUED), State.SUBMITTED, now)
    _set_state(email.filter(notification__status=Notification.Status.SENT), State.REACHED, now)
    _set_state(email.filter(failed), State.FAILED, now)
    # Withdrawn (restoration, cancellation): never sent, and nothing to fall back to.
    _set_state(riding.filter(notification__status=Notification.Status.WITHDRAWN), State.CANCELLED, now)


def _follow_group_posts(now: datetime) -> int:
    """Group-post records take their WeCom post's state (groups.GroupPost), for posts whose
    state changed before the records were written (a post refused at once for the monthly
    limit) or whose signal was missed; returns how many fell back."""
    waiting = ReachRecord.objects.filter(
        channel=Channel.GROUP, state=State.WAITING, broadcast__isnull=False, group__isnull=False
    )
    post = GroupPost.objects.filter(broadcast_id=OuterRef("broadcast_id"), group_id=OuterRef("group_id"))
    _set_state(waiting.filter(Exists(post.filter(state=GroupPostState.SENT))), State.REACHED, now)
    refused = waiting.filter(Exists(post.filter(state=GroupPostState.NOT_SENT)))
    ids = list(refused.values_list("pk", flat=True)[:BATCH_SIZE])
    if not ids:
        return 0
    _set_state(
        ReachRecord.objects.filter(pk__in=ids), State.FAILED, now, state_reason=_("企业微信群发未发送")
    )
    return fall_back(ReachRecord.objects.filter(pk__in=ids))


def reach_refresh(*, now: datetime | None = None) -> int:
    """Beat: follow every open record's channel and fall back what failed; returns the fallbacks."""
    now = now or timezone.now()
    reach_broadcasts_adopt(now=now)
    with transaction.atomic():
        _follow_outbox(now)
        refused_posts = _follow_group_posts(now)
    deadline = now - timedelta(minutes=settings.REACH_GROUP_POST_DEADLINE_MINUTES)
    # Since the record took this channel (a fallback to WeCom one-to-one waits its own time).
    late = ReachRecord.objects.filter(
        channel__in=[Channel.GROUP, Channel.WECOM], state=State.WAITING, state_changed_at__lt=deadline
    )
    note = _("超过 %(minutes)s 分钟仍未发送") % {"minutes": settings.REACH_GROUP_POST_DEADLINE_MINUTES}
    fell_back = refused_posts
    for records, is_late in ((late, True), (_fallback_due(), False)):
        while True:
            with transaction.atomic():
                batch = list(
                    records.order_by("pk")
                    .select_for_update(skip_locked=True)
                    .values_list("pk", flat=True)[:BATCH_SIZE]
                )
                if not batch:
                    break
                chosen = ReachRecord.objects.filter(pk__in=batch)
                if is_late:
                    _set_state(chosen, State.FAILED, now, state_reason=note)
                fell_back += fall_back(chosen, late=is_late)
    return fell_back


# --- broadcasts to important customers ---------------------------------------------------

BROADCAST_ADOPT_DAYS = 2


def reach_broadcasts_adopt(*, now: datetime | None = None) -> int:
    """Reach records for the important customers of broadcasts published lately
    (seed 000 §03: one-to-one, never only the group). groups.services.broadcasts
    writes their SMS or e-mail (`broadcast:<id>:contact:<contact>`); a customer
    whose contacts got one rides on it, one without any gets a call task for the
    manager or is listed unreachable with the reason. Once per broadcast."""
    now = now or timezone.now()
    recent = Broadcast.objects.filter(
        published_at__gte=now - timedelta(days=BROADCAST_ADOPT_DAYS), forward_to_important=True
    )
    done = ReachNotice.objects.filter(
        key__in=[f"broadcast:{pk}" for pk in recent.values_list("pk", flat=True)]
    ).values_list("key", flat=True)
    adopted = 0
    for broadcast in recent.exclude(pk__in=[int(key.split(":")[1]) for key in done]).order_by("pk")[:100]:
        with transaction.atomic():
            adopted += _adopt_broadcast(broadcast, now)
    return adopted


@transaction.atomic
def reach_broadcast_adopt(*, broadcast_id: int) -> int:
    """The records of one broadcast just published (groups.signals.broadcast_published); once."""
    broadcast = Broadcast.objects.filter(pk=broadcast_id, forward_to_important=True).first()
    if broadcast is None or ReachNotice.objects.filter(key=f"broadcast:{broadcast_id}").exists():
        return 0
    return _adopt_broadcast(broadcast, timezone.now())


def _adopt_broadcast(broadcast: Broadcast, now: datetime) -> int:
    notice = reach_notice_open(
        key=f"broadcast:{broadcast.pk}",
        topic_key=f"broadcast:{broadcast.pk}",
        label=f"{broadcast.get_topic_display()}：{broadcast.title}",
        subject=_("【%(topic)s】%(title)s")
        % {"topic": broadcast.get_topic_display(), "title": broadcast.title},
        dedupe_prefix=f"broadcast:{broadcast.pk}:",
        sms_kind="broadcast_important",
        sms_params={"title": broadcast.title[:20]},
    )
    group_ids = list(broadcast.groups.values_list("pk", flat=True))
    important = list(important_contacts(group_ids).values_list("pk", "customer_id"))
    sent = dict(
        Notification.objects.filter(
            dedupe_key__in=[f"broadcast:{broadcast.pk}:contact:{contact_id}" for contact_id, _c in important]
        ).values_list("dedupe_key", "pk")
    )
    channels = dict(Notification.objects.filter(pk__in=sent.values()).values_list("pk", "channel"))
    riding: dict[int, tuple[int, int]] = {}
    for contact_id, customer_id in important:
        row = sent.get(f"broadcast:{broadcast.pk}:contact:{contact_id}")
        if row:
            riding.setdefault(customer_id, (row, contact_id))
    customer_ids = sorted({customer_id for _contact, customer_id in important})
    customers = policy.customer_rows(customer_ids)
    contacts = policy.contact_rows(customer_ids)
    records = []
    for customer_id in customer_ids:
        if customer_id not in customers:
            continue
        row, contact_id = riding.get(customer_id, (None, None))
        if row:
            channel = Channel.EMAIL if channels[row] == Notification.Channel.EMAIL else Channel.SMS
            choice = policy.Choice(
                channel, Reason.SENSITIVE_PERSONAL, State.QUEUED, contact={"id": contact_id}
            )
        else:
            choice = policy.choose(
                customers[customer_id],
                contacts.get(customer_id, []),
                posts=policy.Posts.none(),
                members={},
                urgent=False,
                # No personal message could go: only a call (or nothing) is left.
                after=Channel.SMS,
            )
            if choice.channel == Channel.CALL:
                choice.reason = Reason.NO_MOBILE_SENSITIVE
            elif choice.channel == Channel.NONE:
                choice.reason = Reason.NO_CHANNEL if contacts.get(customer_id) else Reason.NO_CONTACT
        records.append(
            ReachRecord(
                notice=notice,
                customer_id=customer_id,
                station_id=customers[customer_id]["station_id"],
                notification_id=row,
                **_record_fields(choice, now),
            )
        )
    ReachRecord.objects.bulk_create(records, ignore_conflicts=True)
    return len(records)


def _fallback_due():
    return ReachRecord.objects.filter(
        state=State.FAILED,
        fallback_from="",
        notice__withdrawn_at__isnull=True,
        channel__in=[Channel.GROUP, Channel.WECOM, Channel.SMS, Channel.EMAIL],
    )


def fall_back(records, *, late: bool = False) -> int:
    """Move each failed record (not fallen back before) to the next channel; once.
    The claim is the conditional UPDATE of `fallback_from`."""
    rows = list(_fallback_due().filter(pk__in=records.values("pk")).select_related("notice"))
    if not rows:
        return 0
    customer_ids = [row.customer_id for row in rows]
    customers = policy.customer_rows(customer_ids)
    contacts = policy.contact_rows(customer_ids)
    now = timezone.now()
    wecom = one_to_one.wecom_ready()
    moved = 0
    for row in rows:
        customer = customers.get(row.customer_id)
        if customer is None:
            continue
        choice = policy.choose(
            customer,
            contacts.get(row.customer_id, []),
            posts=policy.Posts.none(),
            members={},
            urgent=False,
            after=row.channel,
            wecom=wecom,
        )
        if late and row.channel == Channel.GROUP and choice.channel != Channel.NONE:
            choice.reason = Reason.GROUP_LATE
        claimed = ReachRecord.objects.filter(pk=row.pk, fallback_from="").update(fallback_from=row.channel)
        if not claimed:
            continue
        draft = _outbox_draft(row.notice, choice, row.customer_id, fallback=True)
        outbox = _write_outbox({row.customer_id: draft} if draft else {})
        fields = _record_fields(choice, now)
        if row.call_state and choice.channel != Channel.CALL:
            # A call task already beside it stays.
            fields.pop("call_state"), fields.pop("call_assignee_id")
        ReachRecord.objects.filter(pk=row.pk).update(
            fallback_at=now, notification_id=outbox.get(row.customer_id), **fields
        )
        if choice.channel == Channel.WECOM and choice.sender:
            one_to_one.personal_posts_attach(notice=row.notice, senders={row.customer_id: choice.sender})
        moved += 1
    return moved


# --- withdrawing --------------------------------------------------------------------------


@transaction.atomic
def reach_withdraw(*, notice_keys: list[str], dedupe_prefixes: list[str]) -> int:
    """Withdraw notices that must not go out any more (restoration, cancellation):
    every outbox row under those prefixes (or carrying one of their records) not
    yet sent becomes WITHDRAWN, and the records not yet reached become 已撤回 (a
    pending call task too). A message whose send had started keeps its record
    open and follows its outbox row. Returns the outbox rows withdrawn."""
    now = timezone.now()
    ReachNotice.objects.filter(key__in=notice_keys, withdrawn_at__isnull=True).update(withdrawn_at=now)
    records = ReachRecord.objects.filter(notice__key__in=notice_keys)
    riding = Q(
        pk__in=records.filter(state__in=OPEN_STATES, notification__isnull=False).values("notification_id")
    )
    for prefix in dedupe_prefixes:
        riding |= Q(dedupe_key__startswith=prefix)
    withdrawn = notifications_withdraw(notifications=Notification.objects.filter(riding))
    # What already went out keeps its state (an SMS sent is submitted); what was withdrawn is 已撤回.
    _follow_outbox(now, Q(notice__key__in=notice_keys))
    _set_state(
        records.filter(state__in=[State.WAITING, State.QUEUED], notification__isnull=True),
        State.CANCELLED,
        now,
    )
    records.filter(call_state=CallState.PENDING).update(call_state=CallState.NONE)
    return withdrawn


# --- phone calls ------------------------------------------------------------------------------

CALL_OUTCOMES = (CallState.DONE, CallState.NO_ANSWER, CallState.WRONG_NUMBER)


@transaction.atomic
def reach_call_record(*, record: ReachRecord, by: User, outcome: str) -> ReachRecord:
    """Record a call's outcome. Only the one who must call, or a supervisor or
    administrator over it, may (callers look the task up through
    `calls_for(user)` first, so others get a 404). A wrong number flags the
    contact for correction in the archive (customers.quality)."""
    if outcome not in CALL_OUTCOMES:
        raise ValidationError({"outcome": _("请选择通话结果。")})
    record = ReachRecord.objects.select_for_update().get(pk=record.pk)
    if not ReachRecord.objects.calls_for(by).filter(pk=record.pk).exists():
        raise PermissionDenied(_("这不是您的电话通知任务。"))
    if record.call_state == CallState.NONE:
        raise ValidationError({"outcome": _("该通知已撤回，无需拨打。")})
    now = timezone.now()
    record.call_state, record.called_at, record.called_by = outcome, now, by
    fields = ["call_state", "called_at", "called_by"]
    if record.channel == Channel.CALL:
        record.state = State.REACHED if outcome == CallState.DONE else State.FAILED
        record.state_changed_at = now
        fields += ["state", "state_changed_at"]
        if outcome == CallState.DONE:
            record.reached_at = now
            fields.append("reached_at")
    record.save(update_fields=fields)
    if outcome == CallState.WRONG_NUMBER and record.contact_id:
        Contact.objects.filter(pk=record.contact_id, phone_flagged_at__isnull=True).update(
            phone_flagged_at=now
        )
        customer_refresh_completeness(customer=record.customer)
    return record


# --- acceptance of an order ---------------------------------------------------------------------


@transaction.atomic
def reach_acceptance(
    *,
    customer: Customer,
    contact: Contact | None,
    notice_key: str,
    topic_key: str,
    label: str,
    subject: str,
    sms_kind: str,
    sms_params: dict,
) -> ReachRecord | None:
    """Tell the customer by SMS that their order is accepted: to the order's contact when
    they have a mobile, else any contact with one; exactly once (notice key and outbox key).
    Without a mobile the record says so (无法触达)."""
    notice = reach_notice_open(
        key=notice_key,
        topic_key=topic_key,
        label=label,
        subject=subject,
        dedupe_prefix=f"{notice_key}:",
        sms_kind=sms_kind,
        sms_params=sms_params,
    )
    if ReachRecord.objects.filter(notice=notice, customer=customer).exists():
        return None
    contacts = policy.contact_rows([customer.pk]).get(customer.pk, [])
    chosen = next(
        (c for c in contacts if contact is not None and c["id"] == contact.pk and c["mobile"]), None
    )
    chosen = chosen or next((c for c in contacts if c["mobile"]), None)
    now = timezone.now()
    if chosen is None:
        reason = Reason.NO_CHANNEL if contacts else Reason.NO_CONTACT
        choice = policy.Choice(Channel.NONE, reason, State.UNREACHABLE)
    else:
        choice = policy.Choice(Channel.SMS, Reason.ACCEPTANCE, State.QUEUED, contact=chosen)
    draft = _outbox_draft(notice, choice, customer.pk, fallback=False)
    outbox = _write_outbox({customer.pk: draft} if draft else {})
    ReachRecord.objects.bulk_create(
        [
            ReachRecord(
                notice=notice,
                customer=customer,
                station_id=customer.station_id,
                notification_id=outbox.get(customer.pk),
                **_record_fields(choice, now),
            )
        ],
        ignore_conflicts=True,
    )
    return ReachRecord.objects.filter(notice=notice, customer=customer).first()
