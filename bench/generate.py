"""Data at scale for the benchmarks and the load test, written set-based.

    python manage.py seed_scale --scale {small,county,prefecture} --wipe

Rows are made by INSERT ... SELECT over generate_series, one statement per
table (or per chunk), so PostgreSQL does the work: no Python object per row.
The customer triggers (customers/sync_triggers.py) fire as for any insert, so
every customer gets its version and sync stamp, and a contact insert touches
its customer, exactly as in production. Each customer and contact gets its
first history row by the same kind of statement (core.history), so a first
edit shows old → new as for an archive made through a form.

The people the load test plays are written to bench/results/load_users-<database>.json
(bench.common.load_users_file; usernames, the shared password, API tokens, a few customer and order ids
each may open).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

# Every generated person logs in with this (a benchmark database only).
PASSWORD = "bench-load-2026"
CUSTOMERS_PER_DISTRICT = 200
DISTRICTS_PER_LINE = 10
STATIONS_PER_COUNTY = 10
MANAGERS_PER_STATION = 5
# One customer in fifty needs one-to-one contact (an outage tells them by SMS).
SENSITIVE_EVERY = 50
CHUNK = 250_000
DAYS = 60
# A prefecture's million orders are its history of about two years (some
# 500,000 a year), not two months of it: the dashboard's periods read a month.
ORDER_HISTORY_DAYS = 730


@dataclass(frozen=True)
class Scale:
    counties: int
    customers: int
    orders: int
    open_orders: int
    groups: int
    messages: int
    outages: int


SCALES = {
    "small": Scale(
        counties=1,
        customers=20_000,
        orders=20_000,
        open_orders=2_000,
        groups=100,
        messages=20_000,
        outages=10,
    ),
    "county": Scale(
        counties=1,
        customers=100_000,
        orders=100_000,
        open_orders=10_000,
        groups=500,
        messages=100_000,
        outages=30,
    ),
    "prefecture": Scale(
        counties=10,
        customers=1_000_000,
        orders=1_000_000,
        open_orders=100_000,
        groups=5_000,
        messages=1_000_000,
        outages=300,
    ),
}


def sql_literal(value) -> str:
    from psycopg import sql

    return sql.Literal(value).as_string()


def sql_array(values) -> str:
    return "ARRAY[" + ", ".join(str(int(v)) for v in values) + "]::bigint[]"


def insert_select(model, columns: dict[str, str], source: str) -> int:
    """INSERT INTO model's table SELECT the given column expressions FROM source.

    Columns not given take the field's default (`now()` for auto_now fields
    and timezone.now defaults, NULL for nullable ones without a default), so
    every generated row is one the ORM could have written. Returns the rows.
    """
    from django.db import connection

    quote = connection.ops.quote_name
    names, expressions = [], []
    known = {field.column for field in model._meta.concrete_fields}
    unknown = set(columns) - known
    if unknown:
        raise ValueError(f"unknown columns for {model.__name__}: {sorted(unknown)}")
    for field in model._meta.concrete_fields:
        column = field.column
        if column in columns:
            expression = columns[column]
        elif field.primary_key or field.generated:
            continue  # the database fills these
        elif _set_to_now(field):
            expression = "now()"
        elif field.null and not field.has_default():
            expression = "NULL"
        else:
            # The value the ORM would save for an unset field ('' for text).
            value = field.get_db_prep_save(field.get_default(), connection)
            if value is None and not field.null:
                raise ValueError(f"{model.__name__}.{field.name} needs a value")
            expression = "NULL" if value is None else sql_literal(value)
        names.append(quote(column))
        expressions.append(expression)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(names)}) "
            f"SELECT {', '.join(expressions)} FROM {source}"
        )
        return cursor.rowcount


def _set_to_now(field) -> bool:
    from django.utils import timezone

    stamped = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return stamped or (field.has_default() and field.default is timezone.now)


def series(start: int, stop: int) -> str:
    """generate_series(start, stop) AS g, inclusive."""
    return f"generate_series({int(start)}, {int(stop)}) AS g"


def chunks(total: int, size: int = CHUNK):
    for start in range(1, total + 1, size):
        yield start, min(start + size - 1, total)


def wipe() -> None:
    """Empty every table the generator fills (the benchmark database only)."""
    from django.db import connection

    tables = [
        "notifications_notification",
        "outages_outagebroadcast",
        "outages_outagenotice",
        "outages_affectedcustomer",
        "outages_outage_districts",
        "outages_outage_lines",
        "outages_outage",
        "groups_groupmessage",
        "groups_broadcast_groups",
        "groups_broadcast",
        "groups_membership",
        "groups_servicegroup",
        "tickets_ticket",
        "customers_contact",
        "customers_historicalcontact",
        "customers_customer",
        "customers_historicalcustomer",
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def org_tree(scale: Scale):
    """Province, prefecture, counties, stations, their people, lines and districts."""
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from accounts.models import OrgUnit, User
    from customers.models import District, Line

    password = make_password(PASSWORD)
    province, _ = OrgUnit.objects.get_or_create(code="SP", defaults={"name": "省公司", "level": 1})
    prefecture, _ = OrgUnit.objects.get_or_create(
        code="SPF", defaults={"name": "地市供电局", "level": 2, "parent": province}
    )
    counties, stations = [], []
    for c in range(scale.counties):
        county, _ = OrgUnit.objects.get_or_create(
            code=f"SC{c:02d}", defaults={"name": f"县供电局{c}", "level": 3, "parent": prefecture}
        )
        counties.append(county)
        for s in range(STATIONS_PER_COUNTY):
            stations.append(
                OrgUnit.objects.get_or_create(
                    code=f"SS{c:02d}{s}", defaults={"name": f"供电所{c}-{s}", "level": 4, "parent": county}
                )[0]
            )

    def person(username: str, real_name: str, unit, role: str) -> User:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={"real_name": real_name, "org_unit": unit, "role": role, "password": password},
        )
        return user

    managers = [
        person(f"scale-m{i:04d}", f"经理{i}", stations[i // MANAGERS_PER_STATION], User.Role.ACCOUNT_MANAGER)
        for i in range(len(stations) * MANAGERS_PER_STATION)
    ]
    # One supervisor per level the load test plays: the prefecture, each county, and
    # the first station of each county.
    supervisors = (
        [person("scale-sup", "地市主管", prefecture, User.Role.SUPERVISOR)]
        + [
            person(f"scale-sup{c:02d}", f"县主管{c}", county, User.Role.SUPERVISOR)
            for c, county in enumerate(counties)
        ]
        + [
            person(
                f"scale-stsup{c:02d}", f"所主管{c}", stations[c * STATIONS_PER_COUNTY], User.Role.SUPERVISOR
            )
            for c in range(len(counties))
        ]
    )
    # Systems that sync the archive: a county supervisor's reach, by token.
    sync_clients = [
        person(f"scale-sync{c:02d}", f"同步{c}", county, User.Role.SUPERVISOR)
        for c, county in enumerate(counties)
    ]
    tokens = {}
    for user in sync_clients + supervisors:
        key = hashlib.sha1(f"scale-token:{user.username}".encode()).hexdigest()
        Token.objects.filter(user=user).exclude(key=key).delete()
        Token.objects.get_or_create(user=user, defaults={"key": key})
        tokens[user.username] = key

    districts_total = max(1, scale.customers // CUSTOMERS_PER_DISTRICT)
    lines_total = max(1, districts_total // DISTRICTS_PER_LINE)
    existing_lines = {line.code: line for line in Line.objects.filter(code__startswith="SXL")}
    Line.objects.bulk_create(
        [
            Line(code=f"SXL{i:05d}", name=f"10kV线{i}", station=stations[i % len(stations)])
            for i in range(lines_total)
            if f"SXL{i:05d}" not in existing_lines
        ]
    )
    lines = list(Line.objects.filter(code__startswith="SXL").order_by("code")[:lines_total])
    existing = {d.code: d for d in District.objects.filter(code__startswith="STQ")}
    station_index_by_id = {station.pk: i for i, station in enumerate(stations)}
    fresh, changed = [], []
    for i in range(districts_total):
        line = lines[i % lines_total]
        station_index = station_index_by_id.get(line.station_id, 0)
        # Each station's managers take its districts in turn.
        manager = managers[station_index * MANAGERS_PER_STATION + (i // lines_total) % MANAGERS_PER_STATION]
        district = existing.get(f"STQ{i:05d}") or District(code=f"STQ{i:05d}", name=f"台区{i}")
        district.station_id, district.line, district.manager = line.station_id, line, manager
        (changed if district.pk else fresh).append(district)
    District.objects.bulk_create(fresh, batch_size=2000)
    District.objects.bulk_update(changed, ["station", "line", "manager"], batch_size=2000)
    districts = list(District.objects.filter(code__startswith="STQ").order_by("code")[:districts_total])
    return supervisors, sync_clients, managers, districts, tokens


def customers_and_contacts(scale: Scale, districts) -> None:
    """Customer g (id g) lives in district (g - 1) // 200, with that district's station, line and manager.

    Each has one primary contact, written first: the foreign key is checked
    at commit, so when the customers go in their rows of the sync feed are
    rendered once, contacts included, instead of once without and again when
    the contacts touch them. Every trigger stays on.
    """
    from django.db import connection

    from core.history import insert_baseline_history
    from customers.models import Contact, Customer

    for start, stop in chunks(scale.customers):
        insert_select(
            Contact,
            {
                "customer_id": "g",
                "name": "'户主'",
                "relation": "'self'",
                "mobile": "'139' || lpad((g % 100000000)::text, 8, '0')",
                "preferred_channel": "CASE WHEN g % 4 = 0 THEN 'sms' ELSE 'phone' END",
                "is_primary": "true",
            },
            series(start, stop),
        )
    count = len(districts)
    district_index = f"(1 + ((g - 1) / {CUSTOMERS_PER_DISTRICT}) % {count})"
    for start, stop in chunks(scale.customers):
        insert_select(
            Customer,
            {
                "id": "g",
                "number": "(9000000000 + g)::text",
                "name": "'客户' || g",
                "kind": "CASE WHEN g % 10 = 0 THEN 'commercial' ELSE 'resident' END",
                "segment": "CASE WHEN g % 3 = 0 THEN 'rural' ELSE 'urban' END",
                "voltage": "'220V'",
                "address": "'某县某镇某路' || g || '号'",
                "station_id": f"({sql_array(d.station_id for d in districts)})[{district_index}]",
                "district_id": f"({sql_array(d.pk for d in districts)})[{district_index}]",
                "line_id": f"({sql_array(d.line_id for d in districts)})[{district_index}]",
                "manager_id": f"({sql_array(d.manager_id for d in districts)})[{district_index}]",
                "is_sensitive": f"g % {SENSITIVE_EVERY} = 0",
                "verified_at": f"now() - (g % {DAYS * 3}) * interval '1 day'",
                "completeness": "100",
            },
            series(start, stop),
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
            "(SELECT max(id) FROM customers_customer))"
        )
    insert_baseline_history(Customer, Customer.history.model, batch_size=CHUNK)
    insert_baseline_history(Contact, Contact.history.model, batch_size=CHUNK)


def work_orders(scale: Scale, now) -> None:
    """Orders over ORDER_HISTORY_DAYS; the open ones fresh (inside their clock), the rest closed."""
    from tickets import sla
    from tickets.models import Category, Kind, Ticket

    policy = sla.policy_for(kind=Kind.REPAIR, category="other", urgency=0, sensitive=False)
    every = max(1, scale.orders // max(scale.open_orders, 1))
    kinds = "ARRAY[" + ", ".join(f"'{k}'" for k in Kind.values) + "]"
    categories = "ARRAY[" + ", ".join(f"'{c}'" for c in Category.values) + "]"
    open_status = "(ARRAY['new', 'dispatched', 'signed', 'in_progress'])[1 + (g / 7) % 4]"
    closed_status = "(ARRAY['resolved', 'visited', 'archived', 'archived'])[1 + (g / 7) % 4]"
    is_open = f"g % {every} = 0 AND g / {every} <= {scale.open_orders}"
    at = sql_literal(now)
    for start, stop in chunks(scale.orders):
        insert_select(
            Ticket,
            {
                "number": "'SG' || lpad(g::text, 10, '0')",
                "kind": f"({kinds})[1 + g % {len(Kind.values)}]",
                "category": f"({categories})[1 + (g / 3) % {len(Category.values)}]",
                "customer_id": "c.id",
                "contact_name": "'户主'",
                "title": "'客户诉求' || g",
                "description": "'客户反映的问题，详见通话记录。'",
                "org_unit_id": "c.station_id",
                "assignee_id": "c.manager_id",
                "status": "x.st",
                "policy_id": str(policy.pk),
                "created_at": "x.c",
                "sign_warn_at": "x.c + interval '8 minutes'",
                "sign_due_at": "x.c + interval '10 minutes'",
                "resolve_warn_at": "x.c + interval '19 hours'",
                "resolve_due_at": "x.c + interval '24 hours'",
                "escalation_step": "interval '12 hours'",
                "next_escalation_at": (
                    "CASE WHEN x.st IN ('signed', 'in_progress') THEN x.c + interval '24 hours' END"
                ),
                "sign_reminded": "x.st NOT IN ('new', 'dispatched')",
                "signed_at": (
                    "CASE WHEN x.st IN ('new', 'dispatched') THEN NULL ELSE x.c + interval '5 minutes' END"
                ),
                "resolved_at": (
                    "CASE WHEN x.st IN ('resolved', 'visited', 'archived') THEN x.c + interval '6 hours' END"
                ),
                "archived_at": "CASE WHEN x.st = 'archived' THEN x.c + interval '3 days' END",
            },
            # Open orders were opened in the last 18 hours (inside their clock);
            # closed ones spread over the last ORDER_HISTORY_DAYS.
            f"{series(start, stop)} "
            f"JOIN customers_customer c ON c.id = 1 + (g::bigint * 7919) % {scale.customers} "
            f"CROSS JOIN LATERAL (SELECT CASE WHEN {is_open} "
            f"THEN {at}::timestamptz - ((g::bigint * 13) % 64800) * interval '1 second' "
            f"ELSE {at}::timestamptz - interval '4 days' "
            f"- ((g::bigint * 7919) % {(ORDER_HISTORY_DAYS - 4) * 86400}) * interval '1 second' END AS c, "
            f"CASE WHEN {is_open} THEN {open_status} ELSE {closed_status} END AS st) AS x",
        )


def groups_and_messages(scale: Scale, districts, now) -> None:
    """One district group per district (up to `groups`), messages spread over the groups."""
    from groups.models import GroupMessage, ServiceGroup

    chosen = districts[: scale.groups]
    insert_select(
        ServiceGroup,
        {
            "name": "'台区群' || d.name",
            "kind": "'district'",
            "owner_id": "d.manager_id",
            "org_unit_id": "d.station_id",
            "district_id": "d.id",
            "rules": "'文明交流，不发广告。'",
            "created_by_id": "d.manager_id",
            "created_at": "now() - interval '90 days'",
        },
        f"customers_district d WHERE d.id = ANY({sql_array(d.pk for d in chosen)}) ORDER BY d.code",
    )
    groups = scale.groups
    at = sql_literal(now)
    # Every fifth message a customer's inquiry, answered within the hour
    # (the answer itself is not linked: a plain staff message follows it).
    inquiry = "g % 5 = 0"
    sent = f"({at}::timestamptz - ((g::bigint * 7919) % {DAYS * 86400}) * interval '1 second')"
    for start, stop in chunks(scale.messages):
        insert_select(
            GroupMessage,
            {
                "group_id": "sg.id",
                "sender_kind": f"CASE WHEN {inquiry} THEN 'customer' ELSE 'staff' END",
                "customer_id": f"CASE WHEN {inquiry} THEN c.id END",
                "sender_user_id": f"CASE WHEN {inquiry} THEN NULL ELSE sg.owner_id END",
                "sender_name": f"CASE WHEN {inquiry} THEN c.name ELSE '客户经理' END",
                "text": f"CASE WHEN {inquiry} THEN '请问什么时候恢复送电？' ELSE '您好，已收到。' END",
                "sent_at": sent,
                "is_inquiry": inquiry,
                "response_due_at": f"CASE WHEN {inquiry} THEN {sent} + interval '2 hours' END",
                "answered_at": f"CASE WHEN {inquiry} THEN {sent} + interval '20 minutes' END",
                "response_seconds": f"CASE WHEN {inquiry} THEN 1200 END",
                "external_id": "'m' || g",
            },
            f"{series(start, stop)} "
            f"JOIN groups_servicegroup sg ON sg.id = 1 + g % {groups} "
            f"JOIN customers_customer c ON c.id = 1 + ((sg.id - 1) * {CUSTOMERS_PER_DISTRICT} "
            f"+ (g / {groups}) % {CUSTOMERS_PER_DISTRICT}) % {scale.customers}",
        )


def group_health() -> None:
    """Each group's health row from its messages, one INSERT ... SELECT per batch of groups."""
    from groups.services.summaries import group_health_refresh_all

    group_health_refresh_all(batch=1000)


def outages(scale: Scale, districts, supervisors, now) -> None:
    """Two thirds restored (published, affected customers frozen, notices sent), a third planned ahead."""
    from outages.models import AffectedCustomer, Outage, OutageNotice

    at = sql_literal(now)
    count = len(districts)
    creator = supervisors[1] if len(supervisors) > 1 else supervisors[0]
    restored = "g % 3 <> 0"
    began = f"({at}::timestamptz - g * interval '3 hours')"
    ahead = f"({at}::timestamptz + (2 + g % 20) * interval '1 day')"
    insert_select(
        Outage,
        {
            "kind": "CASE WHEN g % 3 = 1 THEN 'fault' ELSE 'planned' END",
            "reason": "CASE WHEN g % 3 = 1 THEN '线路故障' ELSE '设备检修' END",
            "planned_start": f"CASE WHEN g % 3 = 1 THEN NULL WHEN {restored} THEN {began} ELSE {ahead} END",
            "planned_end": (
                f"CASE WHEN g % 3 = 1 THEN NULL WHEN {restored} THEN {began} + interval '4 hours' "
                f"ELSE {ahead} + interval '4 hours' END"
            ),
            "actual_start": f"CASE WHEN {restored} THEN {began} END",
            "actual_end": f"CASE WHEN {restored} THEN {began} + interval '3 hours' END",
            "status": f"CASE WHEN {restored} THEN 'restored' ELSE 'planned' END",
            "published_at": f"CASE WHEN {restored} THEN {began} - interval '1 day' END",
            "long_outage_checked_at": f"CASE WHEN {restored} THEN {at}::timestamptz END",
            "created_by_id": str(creator.pk),
            "org_unit_id": str(creator.org_unit_id),
        },
        series(1, scale.outages),
    )
    from django.db import connection

    with connection.cursor() as cursor:
        # Each outage over one district, spread over the prefecture.
        cursor.execute(
            "INSERT INTO outages_outage_districts (outage_id, district_id) "
            f"SELECT o.id, ({sql_array(d.pk for d in districts)})[1 + (o.id * 7) % {count}] "
            "FROM outages_outage o"
        )
    insert_select(
        AffectedCustomer,
        {"outage_id": "o.id", "customer_id": "c.id", "sensitive": "c.is_sensitive"},
        "outages_outage o JOIN outages_outage_districts od ON od.outage_id = o.id "
        "JOIN customers_customer c ON c.district_id = od.district_id WHERE o.published_at IS NOT NULL",
    )
    for kind, moment in ((OutageNotice.START, "o.actual_start"), (OutageNotice.RESTORED, "o.actual_end")):
        insert_select(
            OutageNotice,
            {"outage_id": "o.id", "kind": f"'{kind}'", "due_at": moment, "fanned_out_at": moment},
            "outages_outage o WHERE o.published_at IS NOT NULL",
        )


SAMPLES_PER_PERSON = 20


def _samples(cursor, sql: str) -> dict[int, list]:
    """{person id: up to SAMPLES_PER_PERSON values} from rows (person id, value)."""
    cursor.execute(sql)
    samples: dict[int, list] = {}
    for person_id, value in cursor.fetchall():
        samples.setdefault(person_id, []).append(value)
    return samples


def _within(unit_table: str, value: str, key: str) -> str:
    """Up to SAMPLES_PER_PERSON rows (supervisor id, value) of `unit_table` (aliased t, with
    org_unit_id) whose unit lies within each supervisor's unit."""
    return (
        f"SELECT id, v FROM (SELECT s.id, {value} AS v, "
        f"row_number() OVER (PARTITION BY s.id ORDER BY {key}) AS n "
        "FROM accounts_user s JOIN accounts_orgunit su ON su.id = s.org_unit_id "
        f"JOIN {unit_table} t ON true JOIN accounts_orgunit tu ON tu.id = t.org_unit_id "
        "AND tu.path LIKE su.path || '%' WHERE s.role = 'supervisor' "
        "AND s.username LIKE 'scale-s%' AND s.username NOT LIKE 'scale-sync%') q "
        f"WHERE n <= {SAMPLES_PER_PERSON}"
    )


def load_users(supervisors, sync_clients, managers, tokens) -> dict:
    """Who the load test logs in as, and what each may open: numbers of their own customers
    and orders, their groups; for supervisors, orders, groups and outages of their units."""
    from django.db import connection

    def per_owner(column: str, value: str, table: str, where: str = "true") -> str:
        return (
            f"SELECT {column}, v FROM (SELECT {column}, {value} AS v, row_number() OVER "
            f"(PARTITION BY {column} ORDER BY id DESC) AS n FROM {table} WHERE {where}) s "
            f"WHERE n <= {SAMPLES_PER_PERSON}"
        )

    with connection.cursor() as cursor:
        customers = _samples(cursor, per_owner("manager_id", "number", "customers_customer"))
        orders = _samples(
            cursor,
            per_owner("assignee_id", "number", "tickets_ticket", "status IN ('signed', 'in_progress')"),
        )
        groups = _samples(cursor, per_owner("owner_id", "id", "groups_servicegroup"))
        unit_orders = _samples(cursor, _within("tickets_ticket", "t.number", "t.id DESC"))
        unit_groups = _samples(cursor, _within("groups_servicegroup", "t.id", "t.id"))
        unit_outages = _samples(cursor, _within("outages_outage", "t.id", "t.id DESC"))

    def level(user) -> str:
        return {2: "prefecture", 3: "county"}.get(user.org_unit.level, "station")

    return {
        "password": PASSWORD,
        "managers": [
            {
                "username": m.username,
                "customers": customers[m.pk],
                "orders": orders.get(m.pk, []),
                "groups": groups.get(m.pk, []),
            }
            for m in managers
            if customers.get(m.pk)
        ],
        "supervisors": [
            {
                "username": s.username,
                "level": level(s),
                "orders": unit_orders.get(s.pk, []),
                "groups": unit_groups.get(s.pk, []),
                "outages": unit_outages.get(s.pk, []),
            }
            for s in supervisors
        ],
        "sync_clients": [{"username": u.username, "token": tokens[u.username]} for u in sync_clients],
    }


def seed(scale_name: str, *, log: Callable[[str], None] = print, scale: Scale | None = None) -> dict:
    """Wipe and fill the database at one named scale (or the given sizes); returns the sizes and seconds."""
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.common import load_users_file, vacuum_analyze

    scale = scale or SCALES[scale_name]
    steps: dict[str, float] = {}
    now = timezone.now()

    def step(name: str, function, *args):
        start = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Generated data can be generated again: no need to wait for each WAL flush.
                cursor.execute("SET LOCAL synchronous_commit = off")
            result = function(*args)
        steps[name] = round(time.perf_counter() - start, 2)
        log(f"  {name}: {steps[name]} s")
        return result

    step("wipe", wipe)
    supervisors, sync_clients, managers, districts, tokens = step("org_tree", org_tree, scale)
    step("customers_and_contacts", customers_and_contacts, scale, districts)
    step("work_orders", work_orders, scale, now)
    step("groups_and_messages", groups_and_messages, scale, districts, now)
    step("group_health", group_health)
    step("outages", outages, scale, districts, supervisors, now)
    start = time.perf_counter()
    vacuum_analyze()
    steps["analyze"] = round(time.perf_counter() - start, 2)
    users = load_users(supervisors, sync_clients, managers, tokens)
    people = load_users_file(connection.settings_dict["NAME"])
    people.parent.mkdir(parents=True, exist_ok=True)
    people.write_text(json.dumps(users, ensure_ascii=False, indent=1))
    steps["total"] = round(sum(steps.values()), 2)
    return {
        "scale": scale_name,
        "customers": scale.customers,
        "work_orders": scale.orders,
        "open_work_orders": scale.open_orders,
        "service_groups": scale.groups,
        "group_messages": scale.messages,
        "outages": scale.outages,
        "districts": len(districts),
        "seconds": steps,
    }
