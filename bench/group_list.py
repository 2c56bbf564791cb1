"""The group list read from the kept health rows against the figures computed from all messages.

    python bench/group_list.py [--groups 1000] [--messages 200000] [--repeat 5]

Generates the groups and messages of bench/generate.py (one district group
per district, every fifth message an inquiry answered in 20 minutes, spread
over 60 days) in PostgreSQL, fills the health rows as seed_scale does, then
measures in the same run, as the supervisor who sees every group:
- the list query of one page (50 groups, sorted by unanswered inquiries)
  with with_health() (the kept rows) and with health_from_messages() (one
  GROUP BY over all the groups' messages, what the list ran before);
- the whole page GET /groups/ in process (with the owners' figures);
- the refresh of every row (refresh_group_health), per 1,000 groups.
Reports the ratio old / new for the list query (goal: the list no longer
grows with the messages) and the load average at the start and the end.
Times are medians of --repeat runs.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, median_seconds, record, serve_pages_in_process, setup_django, timed  # noqa: E402


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def generate(groups: int, messages: int):
    from django.db import connection, transaction
    from django.utils import timezone

    from bench import generate as gen

    customers = groups * gen.CUSTOMERS_PER_DISTRICT
    scale = gen.Scale(
        counties=1,
        customers=customers,
        orders=0,
        open_orders=0,
        groups=groups,
        messages=messages,
        outages=0,
    )
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        gen.wipe()
        supervisors, _clients, _managers, districts, _tokens = gen.org_tree(scale)
        gen.customers_and_contacts(scale, districts)
        gen.groups_and_messages(scale, districts, now)
    with timed() as fill:
        gen.group_health()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    supervisor = min(supervisors, key=lambda user: len(user.org_unit.path))
    return supervisor, fill.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_groups")
    setup_django()
    print(f"load average at start: {load_average()}")

    from django.test import Client
    from django.utils import timezone

    from groups import selectors
    from groups.models import ServiceGroup

    supervisor, fill_seconds = generate(args.groups, args.messages)
    visible = ServiceGroup.objects.visible_to(supervisor).count()
    ordering = selectors._ordering(selectors.DEFAULT_SORT)[1]

    def page_of(annotate):
        now = timezone.now()
        return list(annotate(selectors.group_queryset(user=supervisor), now).order_by(*ordering)[:51])

    kept = median_seconds(lambda: page_of(selectors.with_health), args.repeat)
    from_messages = median_seconds(lambda: page_of(selectors.health_from_messages), args.repeat)

    serve_pages_in_process()
    client = Client()
    client.force_login(supervisor)
    client.get("/groups/", secure=True)
    with counted_queries() as queries:
        response = client.get("/groups/", secure=True)
    if response.status_code != 200:
        raise SystemExit(f"/groups/ answered {response.status_code} {response.get('Location', '')}")
    page = median_seconds(lambda: client.get("/groups/", secure=True), args.repeat)

    from groups.services.summaries import group_health_refresh_all

    refresh = median_seconds(group_health_refresh_all, 1)
    figures = {
        "groups_visible": visible,
        "list_query_kept_rows_ms": round(kept * 1000, 1),
        "list_query_from_messages_ms": round(from_messages * 1000, 1),
        "list_query_speedup": round(from_messages / kept, 1),
        "page_ms": round(page * 1000, 1),
        "page_queries": queries.count,
        "refresh_all_s": round(refresh, 2),
        "refresh_per_1000_groups_s": round(refresh / max(args.groups, 1) * 1000, 2),
        "fill_after_generate_s": round(fill_seconds, 2),
    }
    record("group_list", figures, scale={"groups": args.groups, "messages": args.messages})
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
