"""A full walk of the customer sync feed, against COPY and against a plain DRF list.

    python bench/sync.py [--customers 200000] [--limit 1000]

Generates N customers (each with one primary contact) in PostgreSQL, then
measures in the same run, with a county supervisor who sees them all:
- the sync feed (`GET /api/v1/customers/sync/`, the view called in-process,
  JSON rendered) page by page until `has_more` is false: rows/s, and the
  latency of the last full page against the first (goal ≤ 1.3×: keyset
  pages cost the same wherever they start);
- `COPY (SELECT the same columns, units, manager and contact) TO STDOUT`:
  rows/s, and the sync feed's share of it (goal ≥ 0.3);
- a plain DRF ModelSerializer with nested units and contacts behind
  PageNumberPagination (COUNT plus OFFSET per page) over the same rows.

The walk and COPY are measured `--runs` times (default 5) and the median
ratio is reported, with each run's. The fixed cost of a page is what a
1-row page costs through the whole stack a client meets (token lookup,
throttle, the feed's state, the page), median of the runs' best-of-5; its
share of a full default page is the part of a page that does not scale with
rows. An NDJSON stream of the whole walk (a query per `--limit` rows, one
response, `Accept: application/x-ndjson`) is measured against the paged walk in
the same run (goal ≥ 1.3×).
"""

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, grid, record, setup_django, timed  # noqa: E402

BATCH = 5000


def generate(customers: int):
    from django.db import connection

    from customers.models import Contact, Customer

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_contact, customers_historicalcontact, customers_customer, "
            "customers_historicalcustomer RESTART IDENTITY CASCADE"
        )
    supervisor, stations, districts, managers = grid()
    for start in range(0, customers, BATCH):
        batch = [
            Customer(
                number=f"{7000000000 + i}",
                name=f"客户{i}",
                address=f"某县某镇{i}号",
                voltage="220V",
                station=stations[i % 10],
                district=districts[i % 100],
                line_id=districts[i % 100].line_id,
                manager=managers[i % 50],
                completeness=100,
            )
            for i in range(start, min(start + BATCH, customers))
        ]
        Customer.objects.bulk_create(batch)
        Contact.objects.bulk_create(
            Contact(customer=customer, name="户主", mobile=f"138{customer.pk:08d}", is_primary=True)
            for customer in batch
        )
    with connection.cursor() as cursor:
        for table in ("customers_customer", "customers_contact", "accounts_orgunit", "accounts_user"):
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("ANALYZE customers_district")
        cursor.execute("ANALYZE customers_line")
    return supervisor


def reuse(customers: int):
    """The supervisor of a previous run's data when it holds exactly `customers` archives."""
    from customers.models import Customer

    if Customer.all_objects.count() != customers:
        return None
    return grid()[0]


def wait_until_final(user, customers: int, timeout: float = 120.0) -> None:
    """The feed holds back rows while an older transaction of this database is open."""
    from customers.api.sync import SyncCursor, feed_state, sync_queryset

    deadline = time.monotonic() + timeout
    while sync_queryset(user=user, cursor=SyncCursor(), state=feed_state()).count() < customers:
        if time.monotonic() > deadline:
            raise SystemExit("rows still held back by an open transaction elsewhere in the cluster")
        time.sleep(0.5)


def sync_request(user, cursor: str, limit: int):
    from rest_framework.test import APIRequestFactory, force_authenticate

    from customers.api.views import CustomerSyncView

    request = APIRequestFactory().get("/api/v1/customers/sync/", {"cursor": cursor, "limit": limit})
    force_authenticate(request, user=user)
    response = CustomerSyncView.as_view(throttle_classes=[])(request)
    if hasattr(response, "render"):
        response.render()
    return response


def client_request(token: str, cursor: str, limit: int):
    """The page as a client gets it: token authentication and the throttle included."""
    from rest_framework.test import APIRequestFactory

    from customers.api.views import CustomerSyncView

    request = APIRequestFactory().get(
        "/api/v1/customers/sync/", {"cursor": cursor, "limit": limit}, HTTP_AUTHORIZATION=f"Token {token}"
    )
    response = CustomerSyncView.as_view()(request)
    if hasattr(response, "render"):
        response.render()
    assert response.status_code == 200, response.content[:200]
    return response


def client_page_seconds(
    token: str, cursor: str, limit: int, repeat: int = 5, compile_each: bool = False
) -> float:
    """Best of `repeat`; `compile_each`: the page statement compiled for every request, as
    before it was kept per process (the baseline of the fixed cost, in the same run)."""
    from django.core.cache import cache

    from customers.api import sync

    best = float("inf")
    for _ in range(repeat):
        cache.clear()  # the throttle's history: measure a page, not a refusal
        if compile_each:
            sync._STATEMENTS.clear()
        start = time.perf_counter()
        client_request(token, cursor, limit)
        best = min(best, time.perf_counter() - start)
    return best


def client_walk(token: str, limit: int) -> tuple[int, float]:
    """The paged walk as a client meets it (token lookup and throttle on every page): rows, seconds."""
    from django.core.cache import cache

    cache.clear()
    cursor, rows = "", 0
    with timed() as t:
        while True:
            body = page_body(client_request(token, cursor, limit))
            rows += len(body["results"])
            cursor = body["next"]
            if not body["has_more"]:
                break
    return rows, t.seconds


def client_stream(token: str, limit: int) -> tuple[int, float]:
    """The NDJSON stream as a client meets it (one token lookup and throttle): rows, seconds."""
    from django.core.cache import cache
    from rest_framework.test import APIRequestFactory

    from customers.api.views import CustomerSyncView

    cache.clear()
    request = APIRequestFactory().get(
        "/api/v1/customers/sync/",
        {"limit": limit},
        HTTP_ACCEPT="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    rows = 0
    with timed() as t:
        response = CustomerSyncView.as_view()(request)
        for block in response.streaming_content:
            rows += block.count(b"\n") - block.count(b'{"next":')
    return rows, t.seconds


def ndjson_walk(user, limit: int) -> tuple[int, float]:
    """The whole walk as one NDJSON stream (`Accept: application/x-ndjson`), through the view:
    rows and seconds, the stream read to its end."""
    from rest_framework.test import APIRequestFactory, force_authenticate

    from customers.api.views import CustomerSyncView

    request = APIRequestFactory().get(
        "/api/v1/customers/sync/", {"limit": limit}, HTTP_ACCEPT="application/x-ndjson"
    )
    force_authenticate(request, user=user)
    rows = 0
    with timed() as t:
        response = CustomerSyncView.as_view(throttle_classes=[])(request)
        for block in response.streaming_content:
            # Checkpoints and the trailer are the lines that start with "next".
            rows += block.count(b"\n") - block.count(b'{"next":')
    return rows, t.seconds


def page_seconds(user, cursor: str, limit: int, repeat: int = 5) -> float:
    """Best of a few calls of one page, caches warm."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        sync_request(user, cursor, limit)
        best = min(best, time.perf_counter() - start)
    return best


def page_body(response) -> dict:
    """The page a response carries, whether the view rendered it from data or sent JSON bytes."""
    data = getattr(response, "data", None)
    return data if data is not None else json.loads(response.content)


def sync_walk(user, limit: int) -> tuple[int, list[tuple[str, int, float]], int]:
    """Rows, (cursor, rows, seconds) per page, bytes of JSON, through the view.

    A page's seconds are those of the request and its rendering; reading the
    page back here to follow the cursor is the client's work and not counted.
    """
    cursor, rows, pages, size = "", 0, [], 0
    while True:
        start = time.perf_counter()
        response = sync_request(user, cursor, limit)
        seconds = time.perf_counter() - start
        body = page_body(response)
        pages.append((cursor, len(body["results"]), seconds))
        rows += len(body["results"])
        size += len(response.content)
        cursor = body["next"]
        if not body["has_more"]:
            return rows, pages, size


COPY_SQL = """
COPY (
    SELECT c.id, c.number, c.name, c.kind, c.segment, c.voltage, c.address,
           s.id, s.code, s.name, d.id, d.code, d.name, l.id, l.code, l.name,
           u.id, u.username, u.real_name,
           c.vip_tier, c.is_high_sensitivity, c.is_important, c.is_key_attention, c.is_special,
           c.is_sensitive, c.wechat_bound, c.verified_at, c.completeness, c.notes, c.created_at,
           c.updated_at, c.version, c.deleted_at, c.sync_stamp,
           k.id, k.name, k.relation, k.mobile, k.landline, k.wechat_id, k.email,
           k.preferred_channel, k.is_primary
    FROM customers_customer c
    JOIN accounts_orgunit s ON s.id = c.station_id
    LEFT JOIN customers_district d ON d.id = c.district_id
    LEFT JOIN customers_line l ON l.id = c.line_id
    LEFT JOIN accounts_user u ON u.id = c.manager_id
    LEFT JOIN customers_contact k ON k.customer_id = c.id
    WHERE s.path LIKE %s
    ORDER BY c.sync_stamp, c.id
) TO STDOUT
"""


def copy_out(user) -> tuple[int, float]:
    from django.db import connection

    sink = io.BytesIO()
    # COPY takes no parameters: the statement is composed on the client.
    with (
        connection.cursor() as cursor,
        timed() as t,
        cursor.copy(cursor.mogrify(COPY_SQL, [user.org_unit.path + "%"])) as copy,
    ):
        for block in copy:
            sink.write(block)
    return sink.getvalue().count(b"\n"), t.seconds


def drf_baseline(user, limit: int, max_pages: int | None = None) -> tuple[int, float]:
    """A first version of the feed: ModelSerializer, nested objects, page numbers.

    `max_pages` stops the walk early (a million rows take it half an hour): its
    pages only slow down with depth, so a rate from the first pages flatters it.
    """
    from rest_framework import generics, serializers
    from rest_framework.pagination import PageNumberPagination
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.test import APIRequestFactory, force_authenticate

    from accounts.models import OrgUnit, User
    from customers.models import ARCHIVE_FIELDS, Contact, Customer, District, Line

    class UnitSerializer(serializers.ModelSerializer):
        class Meta:
            model = OrgUnit
            fields = ["id", "code", "name"]

    class DistrictSerializer(serializers.ModelSerializer):
        class Meta:
            model = District
            fields = ["id", "code", "name"]

    class LineSerializer(serializers.ModelSerializer):
        class Meta:
            model = Line
            fields = ["id", "code", "name"]

    class ManagerSerializer(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "username", "real_name"]

    class ContactSerializer(serializers.ModelSerializer):
        class Meta:
            model = Contact
            fields = [
                "id",
                "name",
                "relation",
                "mobile",
                "landline",
                "wechat_id",
                "email",
                "preferred_channel",
                "is_primary",
            ]

    class CustomerSerializer(serializers.ModelSerializer):
        station = UnitSerializer()
        district = DistrictSerializer()
        line = LineSerializer()
        manager = ManagerSerializer()
        contacts = ContactSerializer(many=True)

        class Meta:
            model = Customer
            fields = [
                "id",
                *ARCHIVE_FIELDS,
                "verified_at",
                "completeness",
                "created_at",
                "updated_at",
                "version",
                "contacts",
            ]

    class Pages(PageNumberPagination):
        page_size = limit

    class BaselineView(generics.ListAPIView):
        serializer_class = CustomerSerializer
        pagination_class = Pages
        throttle_classes = []
        # A first version: no check of unknown query parameters (`page` is none of ours).
        permission_classes = [IsAuthenticated]

        def get_queryset(self):
            return (
                Customer.objects.visible_to(self.request.user)
                .select_related("station", "district", "line", "manager")
                .prefetch_related("contacts")
                .order_by("id")
            )

    view = BaselineView.as_view()
    factory = APIRequestFactory()
    page, rows = 1, 0
    with timed() as t:
        while True:
            request = factory.get("/baseline/", {"page": page})
            force_authenticate(request, user=user)
            response = view(request)
            response.render()
            assert response.status_code == 200, response.data
            rows += len(response.data["results"])
            if response.data["next"] is None or page == max_pages:
                break
            page += 1
    return rows, t.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep a previous run's data of the same size")
    parser.add_argument(
        "--runs", type=int, default=5, help="walks and COPYs measured (the median is reported)"
    )
    parser.add_argument(
        "--baseline-pages", type=int, default=None, help="walk only this many pages of the DRF baseline"
    )
    args = parser.parse_args()
    setup_django()
    from django.conf import settings

    # Requests are built in-process with the test request factory's host name.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    with timed() as generation:
        supervisor = reuse(args.customers) if args.reuse else None
        supervisor = supervisor or generate(args.customers)
    wait_until_final(supervisor, args.customers)

    from rest_framework.authtoken.models import Token

    token = Token.objects.get_or_create(user=supervisor)[0].key
    runs = []
    for _run in range(args.runs):
        with counted_queries() as sync_queries:
            sync_rows, pages, sync_bytes = sync_walk(supervisor, args.limit)
        sync_seconds = sum(seconds for _cursor, _rows, seconds in pages)
        copy_rows, copy_seconds = copy_out(supervisor)
        full = [cursor for cursor, rows, _seconds in pages if rows == args.limit] or [""]
        middle = full[len(full) // 2]
        fixed = client_page_seconds(token, middle, 1)
        fixed_compiled = client_page_seconds(token, middle, 1, compile_each=True)
        full_page = client_page_seconds(token, middle, args.limit)
        stream_rows, stream_seconds = ndjson_walk(supervisor, args.limit)
        assert stream_rows == sync_rows, (stream_rows, sync_rows)
        paged_client_rows, paged_client_seconds = client_walk(token, args.limit)
        stream_client_rows, stream_client_seconds = client_stream(token, args.limit)
        assert paged_client_rows == stream_client_rows == sync_rows
        runs.append(
            {
                "ratio": (sync_rows / sync_seconds) / (copy_rows / copy_seconds),
                "fixed": fixed,
                "fixed_compiled": fixed_compiled,
                "full_page": full_page,
                "stream": (stream_rows / stream_seconds) / (sync_rows / sync_seconds),
                "stream_client": paged_client_seconds / stream_client_seconds,
            }
        )
    ratios = [run["ratio"] for run in runs]
    fixed_ms = statistics.median(run["fixed"] for run in runs) * 1000
    fixed_compiled_ms = statistics.median(run["fixed_compiled"] for run in runs) * 1000
    full_page_ms = statistics.median(run["full_page"] for run in runs) * 1000
    stream_speedup = statistics.median(run["stream"] for run in runs)
    stream_client_speedup = statistics.median(run["stream_client"] for run in runs)
    baseline_rows, baseline_seconds = drf_baseline(supervisor, args.limit, args.baseline_pages)

    first_page = page_seconds(supervisor, full[0], args.limit)
    last_page = page_seconds(supervisor, full[-1], args.limit)
    sync_rate = sync_rows / sync_seconds
    copy_rate = copy_rows / copy_seconds
    baseline_rate = baseline_rows / baseline_seconds
    record(
        "sync",
        {
            "customers": args.customers,
            "page_limit": args.limit,
            "generation_seconds": round(generation.seconds, 2),
            "sync_rows": sync_rows,
            "sync_pages": len(pages),
            "sync_seconds": round(sync_seconds, 3),
            "sync_rows_per_second": round(sync_rate),
            "sync_sql_statements": sync_queries.count,
            "sync_json_megabytes": round(sync_bytes / 1e6, 1),
            "copy_rows": copy_rows,
            "copy_rows_per_second": round(copy_rate),
            "sync_vs_copy_ratio": round(statistics.median(ratios), 3),
            "sync_vs_copy_ratios": [round(ratio, 3) for ratio in ratios],
            "sync_vs_copy_goal": ">= 0.3",
            "runs": args.runs,
            "fixed_page_ms": round(fixed_ms, 2),
            "fixed_page_ms_compiling_each_request": round(fixed_compiled_ms, 2),
            "full_page_ms": round(full_page_ms, 2),
            "fixed_share_of_full_page": round(fixed_ms / full_page_ms, 3),
            "ndjson_stream_vs_paged_speedup": round(stream_speedup, 2),
            "ndjson_stream_vs_paged_speedup_as_a_client_meets_them": round(stream_client_speedup, 2),
            "ndjson_stream_goal": ">= 1.3",
            "load_average": round(os.getloadavg()[0], 2),
            "first_page_seconds": round(first_page, 4),
            "last_page_seconds": round(last_page, 4),
            "median_page_seconds": round(statistics.median(seconds for _cursor, _rows, seconds in pages), 4),
            "last_vs_first_page_ratio": round(last_page / first_page, 3),
            "last_vs_first_goal": "<= 1.3",
            "drf_baseline_rows": baseline_rows,
            "drf_baseline_rows_per_second": round(baseline_rate),
            "sync_vs_drf_baseline_speedup": round(sync_rate / baseline_rate, 2),
        },
        scale={"customers": args.customers, "limit": args.limit},
    )


if __name__ == "__main__":
    main()
