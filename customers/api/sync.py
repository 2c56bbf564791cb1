"""The sync feed: `GET /api/v1/customers/sync/?cursor=…&limit=…`.

A client walks the archives it may see page by page, keeps the last `next`
cursor, and later asks again with it to get only what changed since: changed
archives in full, deleted ones as tombstones `{"number": …, "deleted": true}`.

Design
------
Every write to a customer row, and every insert, update or delete of one of
its contacts, stamps the customer row's `sync_stamp` (database triggers, see
migration customers 0003, so the admin, `bulk_update()`, `queryset.update()`
and raw SQL are stamped too). The feed is ordered by `(sync_stamp, id)` and
the cursor is the last `(sync_stamp, id)` returned (index
`customer_sync_stamp_id`), so a page costs the same wherever it starts.

The trap of ordering by a timestamp or a sequence taken at write time is that
transactions commit in another order than they took their values: a reader
can pass value 101, committed, while 100 is still running; when 100 commits,
every later call starts after 101 and 100 is lost. The stamp avoids it:

- PostgreSQL: the stamp is the id of the writing transaction
  (`pg_current_xact_id()`). The feed returns only rows stamped below a
  horizon (`customers_sync_horizon()`, read once per call by `feed_state`):
  the smallest id among the transactions the snapshot sees running, leaving
  out those `pg_stat_activity` places in another database of the cluster
  (they cannot write here), or the snapshot's xmax when none is left. Every
  transaction below it has finished, and any transaction that writes later
  gets a larger id. Rows of a transaction still open (and of any that
  started writing after it) wait until it ends and then appear in a later
  call, after the cursor; meanwhile every response says `held_back` (rows
  already committed above the horizon) and since when.
- SQLite: writers run one at a time (IMMEDIATE transactions), so a counter
  bumped by the triggers inside the writing transaction hands out stamps in
  commit order; everything committed is final.

A row written several times carries its last stamp and appears once per
call, in its latest state. Scoping is the pages': `visible_to(user)` over
live and deleted archives alike, so tombstones come for archives the user
can see. An archive that leaves a place (its station or manager changes, or
an administrator deletes the row for good) leaves a CustomerSyncExit row,
stamped like the customer row (triggers, migration 0012); a second stream
of the feed sends `{"number", "deleted": true, "reason": "out_of_scope"}`
(or a plain tombstone for a hard delete) to each user who could see the
archive there and cannot see it now. The two streams merge in
`(sync_stamp, id)` order under one horizon.

Cursors are signed (django.core.signing) and carry the user, a fingerprint
of what decides their scope (role, unit, the org tree's generation, bumped by
triggers when a unit moves) and the feed's epoch (models.SyncEpoch, drawn
again when the database turns out to be a restored copy, see
customers.sync_triggers.ensure_epoch). A cursor that no longer fits, or that
points beyond the horizon, answers 410 (`CursorExpired`): the client drops
its copy and walks again. That is how a user's own move or promotion, and a
reorganised tree, reach the client: rows of the new scope behind the cursor
and rows of the old one it holds are settled by the new walk.

Speed: no serializer per row. One query reads the page with `.values()`
(units and manager joined), one more the page's contacts, one the exits;
then the rows are built as dicts, in the same shape as the detail response
plus `"deleted": false`. A supervisor's unit ids are cached per process,
keyed by the epoch and the tree's version (bumped by triggers).

On PostgreSQL the page is read, not built (`sync_page_json`): triggers keep
each customer's row of the feed as JSON text (customers.sync_triggers, model
CustomerSyncDoc), written in the same transaction as the stamp, so a row
finished below the horizon has its text finished too. One query takes the
page's ids in feed order, joins their texts (contacts with phones masked for
rows the user does not own), adds the exits' tombstones, and Python only
joins them. The texts cannot keep an old name: a rename takes the customers'
table lock (waiting for open customer writes, keeping new ones out until it
commits) before it re-stamps and re-renders the customers showing the name. A row
whose phones hold anything but printable ASCII is masked by mask_phone here;
a page with a row not rendered, or rendered in another time zone than the
current one, is built by `sync_page` instead.
"""

import base64
import binascii
import dataclasses
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db import connection
from django.db.models import BooleanField, Exists, Min, OuterRef, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

from accounts.models import User
from accounts.scoping import subtree_unit_ids
from customers.api.serializers import CONTACT_FIELDS, mask_contact_phones
from customers.models import (
    SENSITIVITY_FLAGS,
    Contact,
    Customer,
    CustomerSyncDoc,
    CustomerSyncExit,
)
from customers.phone_access import phone_reads_record, reads_every_phone
from customers.sync_triggers import EPOCH_TABLE, EXIT_TABLE, ensure_epoch

MAX_LIMIT = 1000
# How an integration account's read of the feed is named in its phone access log.
ENDPOINT = "GET /api/v1/customers/sync/"

_PLAIN_FIELDS = (
    "id",
    "number",
    "name",
    "kind",
    "segment",
    "voltage",
    "address",
)
_FLAG_FIELDS = ("vip_tier", *SENSITIVITY_FLAGS, "wechat_bound")
_TAIL_FIELDS = ("verified_at", "completeness", "notes", "created_at", "updated_at", "version")
_UNITS = ("station", "district", "line")
_VALUES = (
    *_PLAIN_FIELDS,
    *(f"{unit}{suffix}" for unit in _UNITS for suffix in ("_id", "__code", "__name")),
    "manager_id",
    "manager__username",
    "manager__real_name",
    *_FLAG_FIELDS,
    *_TAIL_FIELDS,
    "deleted_at",
    "sync_stamp",
)


class CursorExpired(APIException):
    """410: the cursor no longer fits (another database or epoch, another user or scope, ahead of
    the feed). The client drops its copy and walks again from the start."""

    status_code = status.HTTP_410_GONE
    default_code = "cursor_expired"

    def __init__(self, reason: str):
        super().__init__(
            {
                "detail": _(
                    "同步游标已失效（数据已恢复或迁移、您的可见范围已变化，或游标不属于您），请从头同步。"
                ),
                "code": self.default_code,
                "reason": reason,
            }
        )


@dataclass(frozen=True)
class FeedState:
    """What one call of the feed reads first (one query, `feed_state`)."""

    epoch: str
    scope_generation: int
    units_version: int
    # Rows stamped below it are final (PostgreSQL); None: every committed row is (SQLite).
    bound: int | None
    # The highest stamp handed out so far (SQLite), for cursors from the future.
    clock: int | None = None
    held_back: bool = False
    held_back_since: datetime | None = None


_STATE_SQL = {
    "postgresql": f"""
SELECT e.epoch::text, e.scope_generation, e.units_version, e.origin = customers_sync_origin(), h.bound,
       -- max() reads the end of the (sync_stamp, id) indexes; an EXISTS would be planned as a scan.
       (SELECT max(c.sync_stamp) FROM customers_customer c) >= h.bound
       OR (SELECT max(x.sync_stamp) FROM {EXIT_TABLE} x) >= h.bound,
       COALESCE(h.since, (SELECT min(a.xact_start) FROM pg_stat_activity a
                          WHERE a.backend_xid IS NOT NULL AND a.datname = current_database()))
FROM customers_sync_horizon() h LEFT JOIN {EPOCH_TABLE} e ON e.id = 1
""",
    "sqlite": f"""
SELECT e.epoch, e.scope_generation, e.units_version, 1, NULL, false, NULL,
       (SELECT value FROM customers_sync_clock WHERE id = 1)
FROM {EPOCH_TABLE} e WHERE e.id = 1
""",
}


def feed_state(*, settle: bool = True) -> FeedState:
    """The epoch, the scope counters and the horizon of this call; re-bases a restored database first."""
    with connection.cursor() as db:
        db.execute(_STATE_SQL[connection.vendor])
        row = db.fetchone()
    if row is None or row[0] is None or not row[3]:
        if not settle:
            raise RuntimeError("the sync feed's epoch row could not be set up")
        ensure_epoch(connection)  # no epoch row yet, or a restored dump's
        return feed_state(settle=False)
    epoch, generation, units, _same_origin, bound, held_back, since, *rest = row
    return FeedState(
        epoch=str(epoch).replace("-", ""),
        scope_generation=generation,
        units_version=units,
        bound=bound,
        clock=rest[0] if rest else None,
        held_back=bool(held_back),
        held_back_since=since if held_back else None,
    )


@dataclass(frozen=True)
class SyncCursor:
    """A position in the feed: after the row (stamp, id)."""

    stamp: int = 0
    id: int = 0


_SALT = "customers.sync.cursor"
_LEGACY_PREFIX = "1:"


def scope_fingerprint(user: User, state: FeedState) -> str:
    """What decides which archives the user sees: role, unit, and the org tree's shape."""
    text = f"{user.role}:{user.is_superuser}:{user.is_active}:{user.org_unit_id}:{state.scope_generation}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_cursor(position: SyncCursor, *, user: User, state: FeedState) -> str:
    """Signed: the position, the user it was issued to, their scope and the feed's epoch."""
    payload = [user.pk, scope_fingerprint(user, state), state.epoch, position.stamp, position.id]
    return signing.Signer(salt=_SALT).sign_object(payload)


def _is_legacy(value: str) -> bool:
    """A cursor of the feed before cursors were signed: base64 of `1:<stamp>:<id>`."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    stamp, _sep, pk = raw.removeprefix(_LEGACY_PREFIX).partition(":")
    return raw.startswith(_LEGACY_PREFIX) and stamp.isdigit() and pk.isdigit()


def unsign_cursor(value: str) -> list | None:
    """The signed payload (None for an empty cursor, "legacy" for an unsigned one of the old feed).

    Raises ValueError for anything this feed never handed out."""
    if not value:
        return None
    if _is_legacy(value):
        return ["legacy"]
    try:
        payload = signing.Signer(salt=_SALT).unsign_object(value)
    except signing.BadSignature:
        raise ValueError("not a sync cursor") from None
    if not (
        isinstance(payload, list)
        and len(payload) == 5
        and all(isinstance(payload[n], int) and not isinstance(payload[n], bool) for n in (0, 3, 4))
        and all(isinstance(payload[n], str) for n in (1, 2))
    ):
        raise ValueError("not a sync cursor")
    return payload


def check_cursor(payload: list | None, *, user: User, state: FeedState) -> SyncCursor:
    """The position a cursor stands for, if it still fits; CursorExpired (410) if not."""
    if payload is None:
        return SyncCursor()
    if payload == ["legacy"]:
        raise CursorExpired("format")
    user_pk, fingerprint, epoch, stamp, pk = payload
    if epoch != state.epoch:
        raise CursorExpired("epoch")  # another database, or this one restored
    if user_pk != user.pk:
        raise CursorExpired("user")
    if fingerprint != scope_fingerprint(user, state):
        raise CursorExpired("scope")
    ahead = stamp >= state.bound if state.bound is not None else stamp > (state.clock or 0)
    if ahead:
        raise CursorExpired("ahead")  # a position the feed has not reached
    return SyncCursor(stamp=stamp, id=pk)


# A supervisor's units, per process: keyed by the tree's version (bumped by triggers on any change).
_UNIT_IDS: dict[tuple[str, int, int], list[int]] = {}
_UNIT_IDS_CAP = 1024


def _unit_ids(user: User, state: FeedState) -> list[int] | bool:
    if not user.is_supervisor or not user.org_unit_id:
        return True
    key = (state.epoch, state.units_version, user.org_unit_id)
    ids = _UNIT_IDS.get(key)
    if ids is None:
        if len(_UNIT_IDS) >= _UNIT_IDS_CAP:
            _UNIT_IDS.clear()
        ids = _UNIT_IDS[key] = subtree_unit_ids(user)
    return ids


def _column(name: str, table: str = Customer._meta.db_table) -> str:
    return f"{connection.ops.quote_name(table)}.{connection.ops.quote_name(name)}"


def _after(cursor: SyncCursor, table: str = Customer._meta.db_table, pk: str = "id") -> RawSQL:
    # A row-value comparison, so the index on (sync_stamp, id) gives the start of the page directly.
    sql = f"({_column('sync_stamp', table)}, {_column(pk, table)}) > (%s, %s)"
    return RawSQL(sql, (cursor.stamp, cursor.id), output_field=BooleanField())


def sync_queryset(*, user: User, cursor: SyncCursor, state: FeedState) -> QuerySet:
    """Archives the user sees now, after `cursor`, final under `state` (feed order)."""
    queryset = Customer.all_objects.visible_to(user, unit_ids=_unit_ids(user, state)).filter(_after(cursor))
    if state.bound is not None:
        queryset = queryset.filter(sync_stamp__lt=state.bound)
    return queryset.order_by("sync_stamp", "id")


def exits_queryset(
    *, user: User, cursor: SyncCursor, state: FeedState, until: RawSQL | None = None
) -> QuerySet:
    """Archives that left a place the user sees and are out of the user's sight now (feed order):
    one `(customer_pk, sync_stamp)` each, `reason` "deleted" when the row is gone.

    `until` bounds the exits read to those up to a position: exits of archives
    still in sight stay in the table for good, and past the end of a full page
    of customers none can be on the page, so a page need not check them all."""
    unit_ids = _unit_ids(user, state)
    still_seen = Customer.all_objects.visible_to(user, unit_ids=unit_ids).filter(pk=OuterRef("customer_pk"))
    queryset = (
        CustomerSyncExit.objects.visible_to(user, unit_ids=unit_ids)
        .filter(_after(cursor, CustomerSyncExit._meta.db_table, "customer_pk"))
        .filter(~Exists(still_seen))
    )
    if until is not None:
        queryset = queryset.filter(until)
    if state.bound is not None:
        queryset = queryset.filter(sync_stamp__lt=state.bound)
    # Moved twice in one transaction: one tombstone.
    return (
        queryset.values("sync_stamp", "customer_pk")
        .annotate(number=Min("number"), reason=Min("reason"))
        .order_by("sync_stamp", "customer_pk")
    )


def _tombstone(number: str, reason: str | None = None) -> dict[str, Any]:
    if reason == CustomerSyncExit.Reason.OUT_OF_SCOPE:
        return {"number": number, "deleted": True, "reason": reason}
    return {"number": number, "deleted": True}


_EXITS_TABLE = CustomerSyncExit._meta.db_table


def _until(stamp: int, pk: int) -> RawSQL:
    sql = f"({_column('sync_stamp', _EXITS_TABLE)}, {_column('customer_pk', _EXITS_TABLE)}) <= (%s, %s)"
    return RawSQL(sql, (stamp, pk), output_field=BooleanField())


def _exit_rows(
    *, user: User, cursor: SyncCursor, state: FeedState, limit: int, until: tuple[int, int] | None = None
) -> list[tuple[int, int, dict]]:
    bound = _until(*until) if until is not None else None
    return [
        (row["sync_stamp"], row["customer_pk"], _tombstone(row["number"], row["reason"]))
        for row in exits_queryset(user=user, cursor=cursor, state=state, until=bound)[: limit + 1]
    ]


def _moment(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it: local time, ISO 8601."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _unit(row: dict[str, Any], unit: str) -> dict[str, Any] | None:
    pk = row[f"{unit}_id"]
    if pk is None:
        return None
    return {"id": pk, "code": row[f"{unit}__code"], "name": row[f"{unit}__name"]}


def _build(
    row: dict[str, Any], contacts: list[dict[str, Any]], user: User, *, full_phones: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {name: row[name] for name in _PLAIN_FIELDS}
    for unit in _UNITS:
        data[unit] = _unit(row, unit)
    manager_id = row["manager_id"]
    data["manager"] = (
        None
        if manager_id is None
        else {
            "id": manager_id,
            "username": row["manager__username"],
            "name": row["manager__real_name"] or row["manager__username"],
        }
    )
    for name in _FLAG_FIELDS:
        data[name] = row[name]
    data["verified_at"] = _moment(row["verified_at"])
    data["completeness"] = row["completeness"]
    data["notes"] = row["notes"]
    data["created_at"] = _moment(row["created_at"])
    data["updated_at"] = _moment(row["updated_at"])
    data["version"] = row["version"]
    # The ownership rule of Customer.owned_by, on the raw row: building a
    # model instance per row to ask it costs a quarter of the page.
    if not full_phones and (manager_id is None or manager_id != user.pk):
        mask_contact_phones(contacts)
    data["contacts"] = contacts
    data["deleted"] = False
    return data


def _merge(rows: list[tuple[int, int, Any]], exits: list[tuple[int, int, Any]], limit: int):
    """Both streams in feed order, cut after `limit`: (rows, has_more, the last position)."""
    merged = sorted(rows + exits, key=lambda row: (row[0], row[1]))
    has_more = len(merged) > limit
    merged = merged[:limit]
    last = SyncCursor(stamp=merged[-1][0], id=merged[-1][1]) if merged else None
    return merged, has_more, last


HELD_BACK_HEADER = "Sync-Held-Back-Since"


def held_back_header(state: FeedState) -> str:
    """The header's value: the moment (ISO 8601), or "unknown" when no session could be named."""
    return _moment(state.held_back_since) if state.held_back_since is not None else "unknown"


def _page(results: list, last: SyncCursor | None, has_more: bool, *, cursor, user, state) -> dict[str, Any]:
    since = state.held_back_since
    return {
        "results": results,
        "next": encode_cursor(last or cursor, user=user, state=state),
        "has_more": has_more,
        "held_back": state.held_back,
        "held_back_since": _moment(since) if since is not None else None,
    }


def _built_rows(*, user: User, cursor: SyncCursor, limit: int, state: FeedState):
    """The rows after `cursor`, built in Python: ([(stamp, id, row)], has_more)."""
    rows = list(sync_queryset(user=user, cursor=cursor, state=state).values(*_VALUES)[: limit + 1])

    live_ids = [row["id"] for row in rows if row["deleted_at"] is None]
    contacts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if live_ids:
        for contact in (
            Contact.objects.filter(customer_id__in=live_ids)
            .order_by("customer_id", "-is_primary", "id")
            .values("customer_id", *CONTACT_FIELDS)
        ):
            contacts[contact.pop("customer_id")].append(contact)

    full_phones = reads_every_phone(user)
    built = [
        (
            row["sync_stamp"],
            row["id"],
            _tombstone(row["number"])
            if row["deleted_at"] is not None
            else _build(row, contacts[row["id"]], user, full_phones=full_phones),
        )
        for row in rows
    ]
    # Past the first customer row beyond the page, no exit can be on it.
    until = (rows[limit]["sync_stamp"], rows[limit]["id"]) if len(rows) > limit else None
    exits = _exit_rows(user=user, cursor=cursor, state=state, limit=limit, until=until)
    merged, has_more, _last = _merge(built, exits, limit)
    if full_phones:
        numbers = [row["number"] for _stamp, _pk, row in merged if not row.get("deleted")]
        phone_reads_record(user=user, endpoint=ENDPOINT, numbers=numbers)
    return merged, has_more


def sync_page(
    *, user: User, cursor: SyncCursor, limit: int, state: FeedState | None = None
) -> dict[str, Any]:
    """One page of the feed after `cursor`: `{"results": [...], "next": "<cursor>", "has_more": bool,
    "held_back": bool, "held_back_since": moment or null}`.

    `next` is the cursor to send next time (the given position again when
    nothing new is finished yet). `has_more` says the page was full: call
    again now. `held_back`: rows committed after the feed's horizon wait for
    an open transaction that started at `held_back_since`.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    state = state or feed_state()
    merged, has_more = _built_rows(user=user, cursor=cursor, limit=limit, state=state)
    last = SyncCursor(stamp=merged[-1][0], id=merged[-1][1]) if merged else None
    return _page([row for _stamp, _pk, row in merged], last, has_more, cursor=cursor, user=user, state=state)


# --- PostgreSQL: the page read from the rows the triggers rendered ---------------------------


def _page_sql(inner_sql: str, exits_sql: str | None = None) -> str:
    """The page's rendered rows; with `exits_sql`, the tombstones of the exits in the same query
    (columns number and reason set on those rows only)."""
    docs = _q(CustomerSyncDoc._meta.db_table)
    exits = (
        f"""
UNION ALL
SELECT x.customer_pk, x.sync_stamp, NULL, false, true, x.number, x.reason FROM ({exits_sql}) x"""
        if exits_sql
        else ""
    )
    return f"""
WITH {PAGE_CTE} AS MATERIALIZED ({inner_sql})
SELECT c.id, c.sync_stamp,
       d.head || CASE WHEN %s OR c.manager_id = %s OR d.contacts_masked IS NULL
                      THEN d.contacts ELSE d.contacts_masked END,
       NOT %s AND d.contacts_masked IS NULL AND c.manager_id IS DISTINCT FROM %s,
       customers_sync_zone() = %s, NULL, NULL
FROM {PAGE_CTE} c
LEFT JOIN {docs} d ON d.customer_id = c.id{exits}
ORDER BY 2, 1
"""


# The page's customer rows, named in the page query so that the exits read stop at its end.
PAGE_CTE = "sync_page"


def _until_page_end(limit: int) -> RawSQL:
    """Exits up to the first customer row beyond the page (`limit + 1`-th), if the page is full;
    all of them (up to the largest stamp) if not. Two scalar subqueries, so that the row
    comparison is an index condition."""
    order = f"FROM {PAGE_CTE} p ORDER BY p.sync_stamp, p.id OFFSET %s LIMIT 1"
    stamp, pk = f"(SELECT p.sync_stamp {order})", f"(SELECT p.id {order})"
    sql = (
        f"({_column('sync_stamp', _EXITS_TABLE)}, {_column('customer_pk', _EXITS_TABLE)}) "
        f"<= (COALESCE({stamp}, %s), COALESCE({pk}, %s))"
    )
    end = 2**63 - 1
    return RawSQL(sql, (limit, end, limit, end), output_field=BooleanField())


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _masked(text: str) -> str:
    """A row whose phones the database left unmasked (not printable ASCII): mask_phone them here."""
    row = json.loads(text)
    mask_contact_phones(row["contacts"])
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _page_bytes(results: str, page: dict[str, Any]) -> bytes:
    tail = json.dumps({**page, "results": None}, ensure_ascii=False, separators=(",", ":"))
    rest = tail.removeprefix('{"results":null,')
    return f'{{"results":[{results}],{rest}'.encode()


# The page statement per process, compiled once per user, scope and page size: compiling the
# ORM's queries costs more than running them. Positions and the horizon are parameters, found
# in the compiled parameters by the stand-in values they were compiled with.
_STATEMENTS: dict[tuple, tuple[str, tuple]] = {}
_STATEMENTS_CAP = 1024
_STAND_INS = (-(2**62) - 11, -(2**62) - 13, -(2**62) - 17)  # stamp, id, horizon: never real values
_ZONE = "\x00zone"  # the current time zone's name, which each request may set


def _compile_page_statement(*, user: User, limit: int, state: FeedState) -> tuple[str, tuple]:
    stamp, pk, bound = _STAND_INS
    stand_in = dataclasses.replace(state, bound=None if state.bound is None else bound)
    cursor = SyncCursor(stamp=stamp, id=pk)
    page = sync_queryset(user=user, cursor=cursor, state=stand_in).values("id", "sync_stamp", "manager_id")
    inner_sql, inner_params = page[: limit + 1].query.get_compiler(connection=connection).as_sql()
    until = _until_page_end(limit)
    exits = exits_queryset(user=user, cursor=cursor, state=stand_in, until=until)[: limit + 1]
    exits_sql, exits_params = exits.query.get_compiler(connection=connection).as_sql()
    full_phones = reads_every_phone(user)
    params = (
        *inner_params,
        full_phones,
        user.pk,
        full_phones,
        user.pk,
        _ZONE,
        *exits_params,
    )
    return _page_sql(inner_sql, exits_sql), params


def _page_statement(*, user: User, cursor: SyncCursor, limit: int, state: FeedState) -> tuple[str, list]:
    """The page query after `cursor` and its parameters."""
    key = (
        connection.alias,
        user.pk,
        scope_fingerprint(user, state),
        reads_every_phone(user),
        state.epoch,
        state.units_version,
        state.bound is None,
        limit,
    )
    cached = _STATEMENTS.get(key)
    if cached is None:
        if len(_STATEMENTS) >= _STATEMENTS_CAP:
            _STATEMENTS.clear()
        sql, params = _compile_page_statement(user=user, limit=limit, state=state)
        cached = _STATEMENTS[key] = _compile_page_statement(user=user, limit=limit, state=state)
    sql, params = cached
    values = {
        _STAND_INS[0]: cursor.stamp,
        _STAND_INS[1]: cursor.id,
        _STAND_INS[2]: state.bound,
        _ZONE: timezone.get_current_timezone_name(),
    }
    return sql, [_put(value, values) for value in params]


def _put(value: Any, values: dict) -> Any:
    """The call's value for a stand-in (kept in the stand-in's type: Django passes some as Int8)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value not in values:
        return value
    return type(value)(values[value]) if isinstance(value, int) else values[value]


def _rendered_page(
    *, user: User, cursor: SyncCursor, limit: int, state: FeedState
) -> tuple[list[tuple[int, int, str]], bool] | None:
    """The page's rows as JSON texts, read from the rows PostgreSQL's triggers rendered:
    ([(stamp, id, text)], has_more); None when a row is not rendered (triggers disabled for a
    while) or rendered in another time zone than the current one (the caller builds them instead)."""
    sql, params = _page_statement(user=user, cursor=cursor, limit=limit, state=state)
    full_phones = reads_every_phone(user)
    with connection.cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    if any(
        number is None and (text is None or not same_zone) for _p, _s, text, _o, same_zone, number, _r in rows
    ):
        return None
    has_more = len(rows) > limit
    rows = rows[:limit]
    texts = [
        (
            stamp,
            pk,
            _dumps(_tombstone(number, reason)) if number is not None else _masked(text) if odd else text,
        )
        for pk, stamp, text, odd, _zone, number, reason in rows
    ]
    if full_phones:
        live = [pk for pk, _stamp, text, _odd, _zone, number, _reason in rows if number is None]
        phone_reads_record(user=user, endpoint=ENDPOINT, customer_ids=live)
    return texts, has_more


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sync_page_json(*, user: User, cursor: SyncCursor, limit: int, state: FeedState | None = None) -> bytes:
    """`sync_page` as JSON bytes, read from the rows PostgreSQL's triggers rendered.

    A row not rendered (triggers disabled for a while) or rendered in another
    time zone than the current one makes the page fall back to `sync_page`.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    state = state or feed_state()
    rendered = _rendered_page(user=user, cursor=cursor, limit=limit, state=state)
    if rendered is None:
        return _dumps(sync_page(user=user, cursor=cursor, limit=limit, state=state)).encode()
    rows, has_more = rendered
    last = SyncCursor(stamp=rows[-1][0], id=rows[-1][1]) if rows else None
    data = _page([], last, has_more, cursor=cursor, user=user, state=state)
    return _page_bytes(",".join(text for _stamp, _pk, text in rows), data)


# --- NDJSON: a full walk in one response ------------------------------------------------------

STREAM_MEDIA_TYPE = "application/x-ndjson"
# Rows read per query of a stream: more than a page, so a long walk costs fewer queries.
STREAM_CHUNK = 5000


def _chunk(*, user: User, cursor: SyncCursor, state: FeedState):
    """One stretch of the stream: ([(stamp, id, text)], has_more)."""
    if connection.vendor == "postgresql":
        rendered = _rendered_page(user=user, cursor=cursor, limit=STREAM_CHUNK, state=state)
        if rendered is not None:
            return rendered
    rows, has_more = _built_rows(user=user, cursor=cursor, limit=STREAM_CHUNK, state=state)
    return [(stamp, pk, _dumps(row)) for stamp, pk, row in rows], has_more


def sync_stream(*, user: User, cursor: SyncCursor, state: FeedState, every: int = MAX_LIMIT):
    """The feed from `cursor` to the horizon of `state` as NDJSON lines (bytes, a chunk at a time).

    Rows have the shape of the pages' rows, read STREAM_CHUNK at a time (one
    query each, so memory stays bounded and no transaction is held open).
    After every `every` rows comes a checkpoint `{"next": "<cursor>"}`: the
    position after every row before it, to resume from if the stream breaks
    off. The last line is the trailer `{"next", "has_more": false, "held_back",
    "held_back_since", "rows"}`; a stream without it was cut short.
    """
    if not 1 <= every <= MAX_LIMIT:
        raise ValueError(f"every must be between 1 and {MAX_LIMIT}")
    position, count, has_more = cursor, 0, True
    while has_more:
        rows, has_more = _chunk(user=user, cursor=position, state=state)
        lines = []
        for index, (stamp, pk, text) in enumerate(rows, start=1):
            lines.append(text)
            # The stream's last row is followed by the trailer, which says the same and more.
            if (count + index) % every == 0 and (has_more or index < len(rows)):
                mark = encode_cursor(SyncCursor(stamp=stamp, id=pk), user=user, state=state)
                lines.append(_dumps({"next": mark}))
        count += len(rows)
        if rows:
            position = SyncCursor(stamp=rows[-1][0], id=rows[-1][1])
        if has_more:
            yield ("\n".join(lines) + "\n").encode()
    trailer = {**_page([], position, False, cursor=position, user=user, state=state), "rows": count}
    del trailer["results"]
    lines.append(_dumps(trailer))
    yield ("\n".join(lines) + "\n").encode()
