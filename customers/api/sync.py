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

On PostgreSQL the page is read, not built (`sync_page_json`): triggers keep
each customer's row of the feed as JSON text (customers.sync_triggers, model
CustomerSyncDoc), written in the same transaction as the stamp, so a row
finished below the snapshot's xmin has its text finished too. One query
takes the page's ids in feed order, joins their texts (contacts with phones
masked for rows the user does not own) and Python only joins them. A row
whose phones hold anything but printable ASCII is masked by mask_phone here;
a page with a row not rendered, or rendered in another time zone than the
current one, is built by `sync_page` instead.
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

from accounts.models import User
from customers.api.serializers import CONTACT_FIELDS, mask_contact_phones
from customers.models import SENSITIVITY_FLAGS, Contact, Customer, CustomerSyncDoc
from customers.phone_access import phone_reads_record, reads_every_phone

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
    queryset = Customer.all_objects.visible_to(user, unit_ids=True).filter(_after(cursor))
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
    # The rule of customers.phone_access.sees_full_phones, on the raw row:
    # building a model instance per row to ask it costs a quarter of the page.
    if not full_phones and (manager_id is None or manager_id != user.pk):
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

    full_phones = reads_every_phone(user)
    results = [
        {"number": row["number"], "deleted": True}
        if row["deleted_at"] is not None
        else _build(row, contacts[row["id"]], user, full_phones=full_phones)
        for row in rows
    ]
    if full_phones:
        numbers = [row["number"] for row in rows if row["deleted_at"] is None]
        phone_reads_record(user=user, endpoint=ENDPOINT, numbers=numbers)
    last = SyncCursor(stamp=rows[-1]["sync_stamp"], id=rows[-1]["id"]) if rows else cursor
    return {"results": results, "next": last.encode(), "has_more": has_more}


# --- PostgreSQL: the page read from the rows the triggers rendered ---------------------------


def _page_sql(inner_sql: str) -> str:
    docs = _q(CustomerSyncDoc._meta.db_table)
    return f"""
SELECT c.id, c.sync_stamp,
       d.head || CASE WHEN %s OR c.manager_id = %s OR d.contacts_masked IS NULL
                      THEN d.contacts ELSE d.contacts_masked END,
       NOT %s AND d.contacts_masked IS NULL AND c.manager_id IS DISTINCT FROM %s,
       customers_sync_zone() = %s
FROM ({inner_sql}) c
LEFT JOIN {docs} d ON d.customer_id = c.id
ORDER BY c.sync_stamp, c.id
"""


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _masked(text: str) -> str:
    """A row whose phones the database left unmasked (not printable ASCII): mask_phone them here."""
    row = json.loads(text)
    mask_contact_phones(row["contacts"])
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _page_bytes(results: str, last: SyncCursor, has_more: bool) -> bytes:
    tail = json.dumps({"next": last.encode(), "has_more": has_more}, separators=(",", ":"))
    return f'{{"results":[{results}],{tail[1:]}'.encode()


def sync_page_json(*, user: User, cursor: SyncCursor, limit: int) -> bytes:
    """`sync_page` as JSON bytes, read from the rows PostgreSQL's triggers rendered (one query).

    A row not rendered (triggers disabled for a while) or rendered in another
    time zone than the current one makes the page fall back to `sync_page`.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    page = sync_queryset(user=user, cursor=cursor).values("id", "sync_stamp", "manager_id")[: limit + 1]
    inner_sql, inner_params = page.query.get_compiler(connection=connection).as_sql()
    full_phones = reads_every_phone(user)
    params = (full_phones, user.pk, full_phones, user.pk, timezone.get_current_timezone_name(), *inner_params)
    with connection.cursor() as db:
        db.execute(_page_sql(inner_sql), params)
        rows = db.fetchall()
    if any(text is None or not same_zone for _pk, _stamp, text, _odd, same_zone in rows):
        data = sync_page(user=user, cursor=cursor, limit=limit)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = SyncCursor(stamp=rows[-1][1], id=rows[-1][0]) if rows else cursor
    if full_phones:
        phone_reads_record(user=user, endpoint=ENDPOINT, customer_ids=[row[0] for row in rows])
    results = ",".join(_masked(text) if odd else text for _pk, _stamp, text, odd, _zone in rows)
    return _page_bytes(results, last, has_more)
