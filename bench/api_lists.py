"""A supervisor's API lists read unit by unit against DRF's plain read, on an existing database.

    DATABASE_URL=postgres://.../crm_bench DB_POOL=0 python bench/api_lists.py \
        --county scale-sup03 --prefecture scale-sup [--repeat 5]

Reads only: the session is read-only, nothing is migrated or written. For
each supervisor, in process, GET /api/v1/customers/ and /api/v1/tickets/
(first page, the page its `next` link names, each with and without a filter),
each the two ways alternated: the view's `rows_by_unit` (the per-unit
read) and without it (DRF's read of the whole scope). Prints the median total
time and SQL time of --repeat runs, the ratio plain / per unit, and the load
average at the start and the end. The responses of both ways are compared.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LISTS = [
    ("customers", "/api/v1/customers/", {}),
    ("customers kind=commercial", "/api/v1/customers/", {"kind": "commercial"}),
    ("customers is_important", "/api/v1/customers/", {"is_important": "true"}),
    ("tickets", "/api/v1/tickets/", {}),
    ("tickets status=closed", "/api/v1/tickets/", {"status": "closed"}),
    ("tickets status=open", "/api/v1/tickets/", {"status": "open"}),
    ("tickets kind=complaint", "/api/v1/tickets/", {"kind": "complaint"}),
]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--county", default="scale-sup03")
    parser.add_argument("--prefecture", default="scale-sup")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://localhost/")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x9Q2" * 12)
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from rest_framework.test import APIClient

    from accounts.models import User
    from customers.api.views import CustomerViewSet
    from tickets.api.views import TicketViewSet

    setup_test_environment()
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    views = {"/api/v1/customers/": CustomerViewSet, "/api/v1/tickets/": TicketViewSet}
    print(f"load average at start: {load_average()}")

    def get(client, url, params, view, per_unit):
        hook = view.__dict__["rows_by_unit"]
        if not per_unit:
            delattr(view, "rows_by_unit")
        try:
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url, params, secure=True)
                total = time.perf_counter() - start
        finally:
            view.rows_by_unit = hook
        assert response.status_code == 200, (response.status_code, response.headers, response.content[:300])
        sql = sum(float(q["time"]) for q in queries.captured_queries)
        return response.json(), total, sql

    print(f"{'who':<11}{'list':<27}{'page':<6}{'way':<9}{'total ms':>9}{'sql ms':>9}{'plain/unit':>11}")
    for who, username in (("county", args.county), ("prefecture", args.prefecture)):
        user = User.objects.get(username=username)
        client = APIClient()
        client.force_authenticate(user)
        for name, url, params in LISTS:
            view = views[url]
            first, _total, _sql = get(client, url, {**params, "limit": 50}, view, True)  # warm
            pages = [("first", {**params, "limit": 50})] + (
                [("next", first["next"])] if first["next"] else []
            )
            for page, request in pages:
                target = (request, None) if isinstance(request, str) else (url, request)
                figures = {True: [], False: []}
                bodies = {}
                for _ in range(args.repeat):
                    for per_unit in (True, False):
                        body, total, sql = get(client, *target, view, per_unit)
                        figures[per_unit].append((total, sql))
                        bodies[per_unit] = body
                assert bodies[True] == bodies[False], (who, name, page)
                medians = {
                    way: (
                        statistics.median(t for t, _ in runs) * 1000,
                        statistics.median(s for _, s in runs) * 1000,
                    )
                    for way, runs in figures.items()
                }
                ratio = medians[False][0] / medians[True][0]
                for way in (True, False):
                    total, sql = medians[way]
                    label = "per unit" if way else "plain"
                    tail = f"{ratio:>11.1f}" if way else ""
                    print(f"{who:<11}{name:<27}{page:<6}{label:<9}{total:>9.1f}{sql:>9.1f}{tail}")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
