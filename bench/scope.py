"""A county supervisor's pages at a county's size and at a prefecture's, scope first against the path join.

    python bench/scope.py [--per-county 30000] [--counties 10] [--repeat 5]

Seeds bench/generate.py's data twice in PostgreSQL (BENCH_DATABASE_URL): once
one county, then --counties counties of the same size each (a reduced
prefecture: --per-county customers, orders and group messages per county, one
group per 200 customers). Each time it measures, as the first county's
supervisor, in process with a fresh login per page:
- GET /customers/, /tickets/?status=signed, /groups/, a customer search
  (/customers/?q=), and /dashboard/ with the cache emptied (cold);
- each page twice: scope first (the rows narrowed by the ids of the county's
  units, today's code) and through the path join the scope used before
  (`unit__path__startswith`, evaluated row by row), swapped in for the run.
Reports each page's time and its SQL's time (the page's SELECTs captured
once and replayed, what the scope changes; the page's Python and templates
weigh the same either way), the ratio prefecture size / county size for both
ways (goal scope first ≤ 1.5) and the ratio path join / scope first at the
prefecture size, with the load average at the start and the end. Times are
medians of --repeat runs, the two ways alternated.
"""

import argparse
import os
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import record, serve_pages_in_process, setup_django, timed  # noqa: E402

PAGES = {
    "customers": "/customers/",
    "orders_signed": "/tickets/?status=signed",
    "groups": "/groups/",
    "search": "/customers/?q=客户1",
    "dashboard_cold": "/dashboard/",
}


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextmanager
def path_join_scope():
    """The scope as it was: a supervisor's rows joined to their units and matched on the path."""
    from django.db.models import Q

    from accounts import scoping
    from workspace.dashboard import figures

    visible_to = scoping.ScopedQuerySet.visible_to
    scope_unit_ids, in_scope = figures.scope_unit_ids, figures.in_scope

    def old_visible_to(self, user, *, unit_ids=False):
        settled = self.settled_for(user)
        if settled is None and user.sees_subtree:
            return self.filter(**{f"{self.scope_unit_field}__path__startswith": user.org_unit.path})
        return visible_to(self, user, unit_ids=unit_ids)

    scoping.ScopedQuerySet.visible_to = old_visible_to
    figures.scope_unit_ids = lambda user: None if user.is_administrator else user.org_unit.path
    figures.in_scope = lambda path, field: Q(**{f"{field}__path__startswith": path}) if path else Q()
    try:
        yield
    finally:
        scoping.ScopedQuerySet.visible_to = visible_to
        figures.scope_unit_ids, figures.in_scope = scope_unit_ids, in_scope


def seed(counties: int, per_county: int) -> None:
    from bench import generate as gen

    scale = gen.Scale(
        counties=counties,
        customers=counties * per_county,
        orders=counties * per_county,
        open_orders=counties * per_county // 10,
        groups=counties * per_county // gen.CUSTOMERS_PER_DISTRICT,
        messages=counties * per_county,
        outages=0,
    )
    print(f"seeding {counties} count{'y' if counties == 1 else 'ies'}: {scale}", flush=True)
    gen.seed(f"scope-{counties}", scale=scale, log=lambda line: print(line, flush=True))


def measure(repeat: int) -> dict[str, dict[str, float]]:
    """{page: {"scope_first": seconds, "path_join": seconds}} for the first county's supervisor."""
    from django.core.cache import cache
    from django.test import Client

    from accounts.models import User

    supervisor = User.objects.get(username="scale-sup00")
    times: dict[str, dict[str, float]] = {}
    for name, url in PAGES.items():

        def page(url=url, name=name):
            if name == "dashboard_cold":
                cache.clear()
            client = Client()
            client.force_login(supervisor)
            response = client.get(url, secure=True)
            assert response.status_code == 200, (url, response.status_code)

        page()  # warm the connection and the templates
        with path_join_scope():
            page()
        # Alternated, so that a change of the machine's load weighs on both ways alike.
        new_times, old_times = [], []
        for _ in range(repeat):
            with timed() as t:
                page()
            new_times.append(t.seconds)
            with path_join_scope(), timed() as t:
                page()
            old_times.append(t.seconds)
        new, old = statistics.median(new_times), statistics.median(old_times)
        # The page's SQL alone (what the scope changes), replayed: the pages' Python
        # and templates weigh the same either way and hide it on a loaded machine.
        new_sql = page_sql(page)
        with path_join_scope():
            old_sql = page_sql(page)
        new_db, old_db = [], []
        for _ in range(repeat):
            new_db.append(replay_seconds(new_sql))
            old_db.append(replay_seconds(old_sql))
        times[name] = {
            "scope_first": new,
            "path_join": old,
            "sql_scope_first": statistics.median(new_db),
            "sql_path_join": statistics.median(old_db),
        }
        sql_new, sql_old = times[name]["sql_scope_first"], times[name]["sql_path_join"]
        print(
            f"  {name}: page scope first {new * 1000:.1f} ms, path join {old * 1000:.1f} ms; "
            f"SQL {sql_new * 1000:.1f} ms, {sql_old * 1000:.1f} ms"
        )
    return times


def page_sql(page) -> list[str]:
    """The SELECTs a page sends, as sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        page()
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]


def replay_seconds(statements: list[str]) -> float:
    from django.db import connection

    with connection.cursor() as cursor, timed() as t:
        for sql in statements:
            cursor.execute(sql)
            cursor.fetchall()
    return t.seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-county", type=int, default=30_000)
    parser.add_argument("--counties", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django()

    serve_pages_in_process()
    print(f"load average at start: {load_average()}", flush=True)
    seed(1, args.per_county)
    county = measure(args.repeat)
    print(f"load average: {load_average()}", flush=True)
    seed(args.counties, args.per_county)
    prefecture = measure(args.repeat)
    figures: dict[str, float] = {}
    for name in PAGES:
        for way in ("scope_first", "path_join", "sql_scope_first", "sql_path_join"):
            figures[f"{name}_{way}_county_ms"] = round(county[name][way] * 1000, 1)
            figures[f"{name}_{way}_prefecture_ms"] = round(prefecture[name][way] * 1000, 1)
            figures[f"{name}_{way}_prefecture_over_county"] = round(
                prefecture[name][way] / county[name][way], 2
            )
        for prefix in ("", "sql_"):
            figures[f"{name}_{prefix}path_join_over_scope_first_at_prefecture"] = round(
                prefecture[name][f"{prefix}path_join"] / prefecture[name][f"{prefix}scope_first"], 2
            )
    record(
        "scope",
        figures,
        scale={"per_county": args.per_county, "counties": args.counties, "repeat": args.repeat},
    )


if __name__ == "__main__":
    main()
