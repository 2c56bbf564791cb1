"""The customer search by a caller's fragment, against the search it replaced, in the same run.

    python bench/search.py [--customers 100000] [--repeat 5] [--reuse]

Generates N customers in PostgreSQL (13-digit 户号, Chinese names and
addresses, one mobile each, a landline for every fifth), then times, for a
county supervisor who sees them all and for a station's account manager, each
kind of search a caller gives (户号 suffix and prefix, last four and seven
digits of a mobile, four digits of a landline, a name, an address, the
full pinyin and the pinyin initials of a name, a two-character name, a broad term):
- the search's SQL: `customer_search` plus the first page of the list;
- the list page (`GET /customers/?q=`), rendered;
- the previous condition (name or address contains, number starts with, a
  contact's phone equals the term) with the same first page, as the baseline.
Medians of `--repeat` runs; ratios baseline / new (greater is faster).
`--reuse` keeps the customers an earlier run generated when their number is
the one asked for (a million take minutes to write).
The previous condition finds nothing for most of these terms, so it is the
cost of a scan that answers "no match".
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import grid, record, serve_pages_in_process, setup_django, timed  # noqa: E402

CHUNK = 50_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "丽霞明华建国秀英志强海燕春梅德芳玉兰文军小红桂英永平金凤晓东红霞宏伟凤英"
TOWNS = ["西江镇", "丹江镇", "永乐镇", "大塘镇", "望丰乡", "达地乡", "方祥乡", "郎德镇", "桃江乡", "开屯镇"]
VILLAGES = "营上平寨羊排南贵东引也东乌高控拜白岩格头雀鸟干皎脚猛"


def generate(customers: int):
    """Customer g: 户号 5201 and g in nine digits; its phones' digits spread by a permutation of g."""
    from django.db import connection

    supervisor, stations, districts, managers = grid()
    station_ids = "ARRAY[" + ",".join(str(s.pk) for s in stations) + "]"
    manager_ids = "ARRAY[" + ",".join(str(m.pk) for m in managers) + "]"
    from customers.pinyin import name_pinyin

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_contact, customers_historicalcontact, customers_customer, "
            "customers_historicalcustomer RESTART IDENTITY CASCADE"
        )
        # The pinyin of every name the generator can make (what Customer.save() would store).
        names = {s + a + b for s in SURNAMES for a in GIVEN for b in ["", *GIVEN]}
        cursor.execute("DROP TABLE IF EXISTS bench_pinyin")
        cursor.execute("CREATE TEMP TABLE bench_pinyin (name text PRIMARY KEY, pinyin text)")
        cursor.executemany(
            "INSERT INTO bench_pinyin VALUES (%s, %s)", [(name, name_pinyin(name)) for name in names]
        )
        for start in range(1, customers + 1, CHUNK):
            stop = min(start + CHUNK - 1, customers)
            cursor.execute(
                f"""
                INSERT INTO customers_customer (id, number, name, kind, segment, voltage, address,
                    station_id, manager_id, vip_tier, is_high_sensitivity, is_important, is_key_attention,
                    is_special, is_sensitive, wechat_bound, completeness, notes, created_at, updated_at,
                    version, sync_stamp, name_pinyin)
                SELECT g, '5201' || lpad(g::text, 9, '0'), n.name,
                    'resident', 'rural', '220V',
                    '雷山县' || (%(towns)s::text[])[1 + g %% 10]
                        || substr(%(villages)s, 1 + (g / 10) %% 26, 1)
                        || substr(%(villages)s, 1 + (g / 260) %% 26, 1)
                        || '村' || (1 + g %% 12) || '组' || (1 + (g / 7) %% 97) || '号',
                    ({station_ids})[1 + (g %% 50) %% 10], ({manager_ids})[1 + g %% 50],
                    0, false, false, false, false, false, false, 100, '', now(), now(), 1, g,
                    p.pinyin
                FROM generate_series(%(start)s, %(stop)s) AS g
                CROSS JOIN LATERAL (SELECT substr(%(surnames)s, 1 + g %% 30, 1)
                    || substr(%(given)s, 1 + (g / 30) %% 40, 1)
                    || CASE WHEN g %% 3 = 0 THEN '' ELSE substr(%(given)s, 1 + (g / 1200) %% 40, 1) END
                    AS name) n
                LEFT JOIN bench_pinyin p ON p.name = n.name
                """,
                {
                    "surnames": SURNAMES,
                    "given": GIVEN,
                    "towns": TOWNS,
                    "villages": VILLAGES,
                    "start": start,
                    "stop": stop,
                },
            )
            cursor.execute(
                """
                INSERT INTO customers_contact (customer_id, name, relation, mobile, landline, wechat_id,
                    email, preferred_channel, is_primary, created_at, wecom_external_userid)
                SELECT g, '户主', 'self', '13' || lpad(((g::bigint * 7919) %% 1000000000)::text, 9, '0'),
                    CASE WHEN g %% 5 = 0
                         THEN '0855-' || lpad(((g::bigint * 104729) %% 10000000)::text, 7, '0')
                         ELSE '' END,
                    '', '', 'phone', true, now(), ''
                FROM generate_series(%(start)s, %(stop)s) AS g
                """,
                {"start": start, "stop": stop},
            )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), "
            "(SELECT max(id) FROM customers_customer))"
        )
        for table in ("customers_customer", "customers_contact", "accounts_orgunit", "accounts_user"):
            cursor.execute(f"ANALYZE {table}")
    return supervisor, managers[0]


def terms(customers: int, manager) -> dict[str, str]:
    """One term per kind of search, each naming a customer of `manager` where it can."""
    from customers.models import Contact, Customer

    mine = Customer.objects.filter(manager=manager).order_by("id")
    target = mine[len(mine) // 2]
    mobile = Contact.objects.filter(customer=target).values_list("mobile", flat=True).first()
    landline = (
        Contact.objects.filter(customer__manager=manager)
        .exclude(landline="")
        .values_list("landline", flat=True)
    ).first()
    return {
        "number_suffix": target.number[-6:],
        "number_prefix": target.number[:10],
        "mobile_last_four": mobile[-4:],
        "mobile_seven": mobile[2:9],
        "landline_four": landline[-4:],
        # Two characters (a surname and a given name: 王伟) are below a trigram's length.
        "name_two": target.name[:2],
        "name_three": target.name if len(target.name) == 3 else target.name + "霞",
        "address_part": target.address[3:9],
        "pinyin_full": (target.name_pinyin or "").split(" ")[0],
        "pinyin_initials": (target.name_pinyin or " ").split(" ")[1],
        "broad_term": "雷山县",
    }


def previous_condition(term: str):
    """The search as it stood before: name or address contains, number starts with, a phone equals."""
    import re

    from django.db.models import Q

    from customers.models import Contact

    condition = Q(name__icontains=term) | Q(address__icontains=term)
    if term.isdigit():
        condition |= Q(number__startswith=term)
    if re.match(r"^[\d-]{7,16}$", term):
        owners = (
            Contact.objects.filter(Q(mobile=term) | Q(landline=term))
            .order_by()
            .values_list("customer_id", flat=True)
            .distinct()[:500]
        )
        condition |= Q(pk__in=list(owners))
    return condition


def median_seconds(function, repeat: int) -> float:
    function()  # buffers warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the customers of an earlier run of this size"
    )
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.test import Client

    from core.pagination import keyset_paginate
    from customers.models import Customer
    from customers.selectors import customer_queryset, customer_search

    serve_pages_in_process()
    load_before = os.getloadavg()
    with timed() as generation:
        if args.reuse and Customer.objects.count() == args.customers:
            supervisor, _stations, _districts, managers = grid()
            manager = managers[0]
        else:
            supervisor, manager = generate(args.customers)
    kinds = terms(args.customers, manager)
    page_size = settings.CUSTOMER_PAGE_SIZE
    figures: dict = {
        "customers": Customer.objects.count(),
        "generation_seconds": round(generation.seconds, 2),
    }
    worst_sql_ms, worst_page_ms = 0.0, 0.0
    for who, user in (("supervisor", supervisor), ("manager", manager)):
        client = Client()
        client.force_login(user)
        for kind, term in kinds.items():

            def new_sql(user=user, term=term):
                customers = customer_queryset(user=user)
                search = customer_search(term, customers=customers)
                return search, keyset_paginate(
                    customers.filter(search.condition), params={}, page_size=page_size
                )

            def old_sql(user=user, term=term):
                customers = customer_queryset(user=user).filter(previous_condition(term))
                return keyset_paginate(customers, params={}, page_size=page_size)

            def page(client=client, term=term):
                response = client.get("/customers/", {"q": term}, secure=True)
                if response.status_code != 200:
                    raise SystemExit(f"GET /customers/?q={term} answered {response.status_code}")

            search, first_page = new_sql()
            sql = median_seconds(new_sql, args.repeat)
            baseline = median_seconds(old_sql, args.repeat)
            page_seconds = median_seconds(page, args.repeat)
            figures[f"{who}.{kind}"] = {
                "term": term,
                "found": len(search.ids),
                "too_many": search.too_many,
                "shown": len(first_page.items),
                "previous_found": len(old_sql().items),
                "sql_ms": round(sql * 1000, 1),
                "page_ms": round(page_seconds * 1000, 1),
                "previous_sql_ms": round(baseline * 1000, 1),
                "speedup_vs_previous": round(baseline / sql, 2) if sql else None,
            }
            print(who, kind, figures[f"{who}.{kind}"], flush=True)
            worst_sql_ms = max(worst_sql_ms, sql * 1000)
            worst_page_ms = max(worst_page_ms, page_seconds * 1000)
    figures["worst_sql_ms"] = round(worst_sql_ms, 1)
    figures["worst_page_ms"] = round(worst_page_ms, 1)
    figures["load_average"] = [round(value, 2) for value in (*load_before, *os.getloadavg())]
    print(f"load average before {load_before}, after {os.getloadavg()}")
    record("search", figures, scale={"customers": args.customers, "repeat": args.repeat})


if __name__ == "__main__":
    main()
