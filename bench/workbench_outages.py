"""The workbench's outage section: live counts read through the indexes against an OR of the ways in.

    python bench/workbench_outages.py [--customers 300000] [--outages 60] [--repeat 5]

Generates customers and outages as bench/generate.py does (each outage over
one district; a third of them planned ahead and not published, so their
affected customers are counted live from the archive) in PostgreSQL, then
measures in the same run, as an account manager with an unpublished outage
over their districts in the coming week:
- the section's read (outages.selectors.workbench_outages) with today's live
  count (the (outage, customer) pairs of the three ways in, a UNION counted
  per outage, one query for the list) and with the count it replaced (one
  subquery per outage: the customers matching an OR of a listed district, a
  district on a listed line or a listed line), swapped in for the run;
- the whole workbench GET / in process, both ways.
Reports the ratio old / new (goal: the section no longer grows with the
archive) and the load average at the start and the end. Times are medians of
--repeat runs, the two ways alternated.
"""

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, median_seconds, record, serve_pages_in_process, setup_django  # noqa: E402


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def generate(customers: int, outages: int):
    from django.db import connection, transaction
    from django.utils import timezone

    from bench import generate as gen

    scale = gen.Scale(
        counties=1, customers=customers, orders=0, open_orders=0, groups=0, messages=0, outages=outages
    )
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        gen.wipe()
        supervisors, _clients, _managers, districts, _tokens = gen.org_tree(scale)
        gen.customers_and_contacts(scale, districts)
        gen.outages(scale, districts, supervisors, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


@contextmanager
def or_of_the_ways_in():
    """The live count as it was: a subquery per outage over an OR of the ways in."""
    from django.db.models import Case, F, Func, IntegerField, OuterRef, Q, Subquery, Value, When
    from django.db.models.functions import Coalesce

    from customers.models import Customer
    from outages import selectors
    from outages.models import Outage

    frozen, live_counts = selectors._frozen_count, selectors.live_affected_counts

    def old_count():
        outage = OuterRef(OuterRef("pk"))
        line_ids = Outage.lines.through.objects.filter(outage_id=outage).values("line_id")
        district_ids = Outage.districts.through.objects.filter(outage_id=outage).values("district_id")
        live = (
            Customer.objects.filter(
                Q(district_id__in=district_ids) | Q(district__line_id__in=line_ids) | Q(line_id__in=line_ids)
            )
            .order_by()
            .annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
            .values("n")
        )
        return Case(
            When(published_at__isnull=False, then=selectors._frozen_rows()),
            default=Coalesce(Subquery(live), Value(0)),
            output_field=IntegerField(),
        )

    # The list's annotation counts every row, the unpublished ones by the OR; nothing is left to
    # count afterwards.
    selectors._frozen_count = old_count
    selectors.live_affected_counts = lambda outage_ids: {}
    try:
        yield
    finally:
        selectors._frozen_count, selectors.live_affected_counts = frozen, live_counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--outages", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_workbench")
    setup_django()
    print(f"load average at start: {load_average()}")

    from django.db.models import Q
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from outages.models import Outage
    from outages.selectors import WORKBENCH_DAYS, workbench_outages

    generate(args.customers, args.outages)
    now = timezone.now()
    coming = Outage.objects.filter(
        published_at__isnull=True, planned_start__lte=now + timezone.timedelta(days=WORKBENCH_DAYS)
    ).filter(Q(districts__manager__isnull=False))
    outage = coming.order_by("planned_start", "id").first()
    if outage is None:
        raise SystemExit("no unpublished outage in the coming week: raise --outages")
    manager = User.objects.get(pk=outage.districts.values_list("manager", flat=True)[0])

    def counts():
        rows, _total = workbench_outages(manager)
        return {row.pk: row.affected_count for row in rows}

    today = counts()
    with or_of_the_ways_in():
        before = counts()
    if today != before:
        raise SystemExit(f"the two ways count differently: {today} against {before}")

    serve_pages_in_process()
    client = Client()
    client.force_login(manager)
    client.get("/", secure=True)
    with counted_queries() as queries:
        response = client.get("/", secure=True)
    if response.status_code != 200:
        raise SystemExit(f"/ answered {response.status_code} {response.get('Location', '')}")

    times: dict[str, list[float]] = {"section": [], "section_old": [], "page": [], "page_old": []}
    for _ in range(args.repeat):
        times["section"].append(median_seconds(counts, 1))
        times["page"].append(median_seconds(lambda: client.get("/", secure=True), 1))
        with or_of_the_ways_in():
            times["section_old"].append(median_seconds(counts, 1))
            times["page_old"].append(median_seconds(lambda: client.get("/", secure=True), 1))
    ms = {key: round(sorted(values)[len(values) // 2] * 1000, 1) for key, values in times.items()}
    figures = {
        "outages_in_section": len(today),
        "affected_counts": today,
        "section_ms": ms["section"],
        "section_or_of_ways_in_ms": ms["section_old"],
        "section_speedup": round(ms["section_old"] / ms["section"], 1),
        "workbench_page_ms": ms["page"],
        "workbench_page_or_of_ways_in_ms": ms["page_old"],
        "workbench_page_speedup": round(ms["page_old"] / ms["page"], 1),
        "workbench_page_queries": queries.count,
    }
    record("workbench_outages", figures, scale={"customers": args.customers, "outages": args.outages})
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
