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
  (`pg_current_xact_id()`). The feed returns only rows whose stamp is below
  the `xmin` of the query's own snapshot (`pg_snapshot_xmin(pg_current_snapshot())`):
  every transaction with an id below xmin has finished, and any transaction
  that writes later gets a larger id than any running now. Rows of a
  transaction still open (and of any transaction that started writing after
  it) wait until it ends and then appear in a later call, after the cursor.
  A long-open writing transaction therefore delays the feed (never loses
  rows): writes stay short.
- SQLite: writers run one at a time (IMMEDIATE transactions), so a counter
  bumped by the triggers inside the writing transaction hands out stamps in
  commit order; everything committed is final.

A row written several times carries its last stamp and appears once per
call, in its latest state. Scoping is the pages': `visible_to(user)` over
live and deleted archives alike, so tombstones come for archives the user
can see. An archive that leaves the user's scope (moved to another station
or manager) simply stops appearing; no tombstone is sent for it.

Speed: no serializer per row. One query reads the page with `.values()`
(units and manager joined, the snapshot bound computed inside it), one more
reads the page's contacts; then the rows are built as dicts, in the same
shape as the detail response plus `"deleted": false`.

On PostgreSQL the page is JSON built by the database (`sync_page_json`): one
query selects the page as above and renders each row with
`json_build_object` (units, manager, timestamps as DRF writes them, contacts
aggregated per customer and phones masked by the rule of
accounts.phones.mask_phone for rows the user does not own); Python only joins
the rows' text. A phone holding anything but printable ASCII is left to
mask_phone itself, so the two paths agree on every value.
"""

import base64
import binascii
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import OrgUnit, User
from accounts.phones import mask_phone
from customers.api.serializers import CONTACT_FIELDS, PHONE_FIELDS, mask_contact_phones
from customers.models import SENSITIVITY_FLAGS, Contact, Customer, District, Line

MAX_LIMIT = 1000

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


@dataclass(frozen=True)
class SyncCursor:
    """A position in the feed: after the row (stamp, id). Opaque to clients."""

    stamp: int = 0
    id: int = 0

    _PREFIX = "1:"

    def encode(self) -> str:
        raw = f"{self._PREFIX}{self.stamp}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "SyncCursor":
        """Raises ValueError for anything that is not a cursor this feed handed out."""
        if not value:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("not a sync cursor") from None
        if not raw.startswith(cls._PREFIX):
            raise ValueError("not a sync cursor")
        stamp, _sep, pk = raw.removeprefix(cls._PREFIX).partition(":")
        if not (stamp.isdigit() and pk.isdigit()):
            raise ValueError("not a sync cursor")
        return cls(stamp=int(stamp), id=int(pk))


def _column(name: str) -> str:
    return f"{connection.ops.quote_name(Customer._meta.db_table)}.{connection.ops.quote_name(name)}"


def _after(cursor: SyncCursor) -> RawSQL:
    # A row-value comparison, so the index on (sync_stamp, id) gives the start of the page directly.
    sql = f"({_column('sync_stamp')}, {_column('id')}) > (%s, %s)"
    return RawSQL(sql, (cursor.stamp, cursor.id), output_field=BooleanField())


def _finished_writes() -> RawSQL | None:
    """Rows whose writing transaction has certainly ended (None: every committed row is final)."""
    if connection.vendor != "postgresql":
        return None
    sql = f"{_column('sync_stamp')} < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    return RawSQL(sql, (), output_field=BooleanField())


def sync_queryset(*, user: User, cursor: SyncCursor) -> QuerySet:
    queryset = Customer.all_objects.visible_to(user).filter(_after(cursor))
    finished = _finished_writes()
    if finished is not None:
        queryset = queryset.filter(finished)
    return queryset.order_by("sync_stamp", "id")


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


def _build(row: dict[str, Any], contacts: list[dict[str, Any]], user: User) -> dict[str, Any]:
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
    if manager_id is None or manager_id != user.pk:
        mask_contact_phones(contacts)
    data["contacts"] = contacts
    data["deleted"] = False
    return data


def sync_page(*, user: User, cursor: SyncCursor, limit: int) -> dict[str, Any]:
    """One page of the feed after `cursor`: `{"results": [...], "next": "<cursor>", "has_more": bool}`.

    `next` is the cursor to send next time (the given one again when nothing
    new is finished yet). `has_more` says the page was full: call again now.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    rows = list(sync_queryset(user=user, cursor=cursor).values(*_VALUES)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]

    live_ids = [row["id"] for row in rows if row["deleted_at"] is None]
    contacts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if live_ids:
        for contact in (
            Contact.objects.filter(customer_id__in=live_ids)
            .order_by("customer_id", "-is_primary", "id")
            .values("customer_id", *CONTACT_FIELDS)
        ):
            contacts[contact.pop("customer_id")].append(contact)

    results = [
        {"number": row["number"], "deleted": True}
        if row["deleted_at"] is not None
        else _build(row, contacts[row["id"]], user)
        for row in rows
    ]
    last = SyncCursor(stamp=rows[-1]["sync_stamp"], id=rows[-1]["id"]) if rows else cursor
    return {"results": results, "next": last.encode(), "has_more": has_more}


# --- PostgreSQL: the page rendered by the database ------------------------------------------

_ODD_PHONE = "[^ -~]"
_PAGE_COLUMNS = (
    *_PLAIN_FIELDS,
    *(f"{unit}_id" for unit in _UNITS),
    "manager_id",
    *_FLAG_FIELDS,
    *_TAIL_FIELDS,
    "deleted_at",
    "sync_stamp",
)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _moment_sql(column: str) -> str:
    """`_moment` in SQL: local time of zone `z.tz`, microseconds only when not zero, Z for UTC."""
    offset = "t.o"
    text = (
        "to_char(t.l, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN mod(t.us, 1000000) = 0 THEN '' ELSE to_char(t.l, '.US') END"
        f" || CASE WHEN {offset} = 0 THEN 'Z' ELSE"
        f" CASE WHEN {offset} < 0 THEN '-' ELSE '+' END"
        f" || lpad((abs({offset}) / 3600)::text, 2, '0')"
        f" || ':' || lpad((mod(abs({offset}), 3600) / 60)::text, 2, '0')"
        f" || CASE WHEN mod(abs({offset}), 60) = 0 THEN ''"
        f" ELSE ':' || lpad(mod(abs({offset}), 60)::text, 2, '0') END"
        " END"
    )
    local = f"{column} AT TIME ZONE z.tz"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE (SELECT {text} FROM (SELECT {local} AS l,"
        f" extract(epoch FROM ({local}) - ({column} AT TIME ZONE 'UTC'))::int AS o,"
        f" extract(microseconds FROM {column})::bigint AS us) t) END"
    )


def _masked_sql(column: str) -> str:
    """mask_phone in SQL, for values of printable ASCII (where \\d is [0-9])."""
    digits = f"length(regexp_replace({column}, '[^0-9]', '', 'g'))"
    head = f"(CASE WHEN strpos({column}, '-') > 0 THEN strpos({column}, '-') ELSE 3 END)"
    return (
        f"CASE WHEN {column} IS NULL OR {column} = '' THEN ''"
        f" WHEN {digits} < 7 THEN repeat('*', length({column}))"
        f" WHEN {digits} = 11 AND left({column}, 1) = '1'"
        f" THEN left({column}, 3) || '****' || right({column}, 4)"
        f" ELSE left({column}, {head}) || repeat('*', length({column}) - {head} - 4) || right({column}, 4)"
        f" END"
    )


def _phone_sql(column: str) -> str:
    return (
        f"CASE WHEN c_owned.owned OR {column} ~ '{_ODD_PHONE}' THEN {column} ELSE {_masked_sql(column)} END"
    )


def _contact_sql() -> str:
    parts = []
    for name in CONTACT_FIELDS:
        column = f"k.{_q(name)}"
        parts.append(f"'{name}', {_phone_sql(column) if name in PHONE_FIELDS else column}")
    return f"json_build_object({', '.join(parts)})"


def _unit_sql(alias: str) -> str:
    return (
        f"CASE WHEN {alias}.id IS NULL THEN NULL ELSE "
        f"json_build_object('id', {alias}.id, 'code', {alias}.code, 'name', {alias}.name) END"
    )


def _row_sql() -> str:
    pairs = [f"'{name}', c.{_q(name)}" for name in _PLAIN_FIELDS]
    pairs += [f"'{unit}', {_unit_sql(unit[0] + '_u')}" for unit in _UNITS]
    pairs.append(
        "'manager', CASE WHEN m.id IS NULL THEN NULL ELSE json_build_object("
        "'id', m.id, 'username', m.username, 'name', COALESCE(NULLIF(m.real_name, ''), m.username)) END"
    )
    pairs += [f"'{name}', c.{_q(name)}" for name in _FLAG_FIELDS]
    pairs.append(f"'verified_at', {_moment_sql('c.verified_at')}")
    pairs += [f"'{name}', c.{_q(name)}" for name in ("completeness", "notes")]
    pairs.append(f"'created_at', {_moment_sql('c.created_at')}")
    pairs.append(f"'updated_at', {_moment_sql('c.updated_at')}")
    pairs.append("'version', c.version")
    pairs.append("'contacts', COALESCE(k_agg.contacts, '[]'::json)")
    pairs.append("'deleted', false")
    return f"json_build_object({', '.join(pairs)})"


def _page_sql(inner_sql: str) -> str:
    contact = _q(Contact._meta.db_table)
    odd = " OR ".join(f"k.{_q(name)} ~ '{_ODD_PHONE}'" for name in PHONE_FIELDS)
    return f"""
SELECT c.id, c.sync_stamp,
       CASE WHEN c.deleted_at IS NOT NULL
            THEN json_build_object('number', c.number, 'deleted', true)
            ELSE {_row_sql()} END::text,
       c.deleted_at IS NULL AND NOT c_owned.owned AND COALESCE(k_agg.odd, false)
FROM ({inner_sql}) c
CROSS JOIN (SELECT %s::text AS tz) z
CROSS JOIN LATERAL (SELECT c.manager_id IS NOT NULL AND c.manager_id = %s AS owned) c_owned
LEFT JOIN {_q(OrgUnit._meta.db_table)} s_u ON s_u.id = c.station_id
LEFT JOIN {_q(District._meta.db_table)} d_u ON d_u.id = c.district_id
LEFT JOIN {_q(Line._meta.db_table)} l_u ON l_u.id = c.line_id
LEFT JOIN {_q(User._meta.db_table)} m ON m.id = c.manager_id
LEFT JOIN LATERAL (
    SELECT json_agg({_contact_sql()} ORDER BY k.is_primary DESC, k.id) AS contacts, bool_or({odd}) AS odd
    FROM {contact} k
    WHERE k.customer_id = c.id AND c.deleted_at IS NULL
) k_agg ON true
ORDER BY c.sync_stamp, c.id
"""


def _mask_odd(text: str) -> str:
    """A row whose contacts hold phones the SQL rule leaves alone: mask those with mask_phone."""
    row = json.loads(text)
    for contact in row["contacts"]:
        for field in PHONE_FIELDS:
            value = contact[field]
            if value and any(not " " <= char <= "~" for char in value):
                contact[field] = mask_phone(value)
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def sync_page_json(*, user: User, cursor: SyncCursor, limit: int) -> bytes:
    """`sync_page` as JSON bytes, rendered by PostgreSQL (one query)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    page = sync_queryset(user=user, cursor=cursor).values(*_PAGE_COLUMNS)[: limit + 1]
    inner_sql, inner_params = page.query.get_compiler(connection=connection).as_sql()
    params = (*inner_params, timezone.get_current_timezone_name(), user.pk)
    with connection.cursor() as db:
        db.execute(_page_sql(inner_sql), params)
        rows = db.fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = SyncCursor(stamp=rows[-1][1], id=rows[-1][0]) if rows else cursor
    results = ",".join(_mask_odd(text) if odd else text for _pk, _stamp, text, odd in rows)
    tail = json.dumps({"next": last.encode(), "has_more": has_more}, separators=(",", ":"))
    return f'{{"results":[{results}],{tail[1:]}'.encode()
