"""The dashboard's satisfaction and return-visit coverage: one definition per order against
the per-visit counting it replaced.

    python bench/satisfaction.py [--orders 200000] [--period 30d] [--repeat 5]

Uses the orders of bench/dashboard.py (generated here when the database holds another
number of them), as the prefecture's supervisor. Measures in the same run:
- baseline: the former three queries (distinct-order counts of the visits due and made,
  then satisfaction by segment and by unit counting every visit);
- now: the two that replace them (tickets.satisfaction: each order's latest visit due,
  and each order's latest visit made, grouped once by segment, unit, result and channel);
and reports now / baseline with the load average. Times are medians of --repeat runs.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median_seconds, record, setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--period", default="30d", choices=["today", "7d", "30d"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django()

    from django.db.models import Case, Count, Q, Value, When

    from accounts.models import User
    from bench.dashboard import generate
    from customers.models import Customer
    from tickets.models import ReturnVisit, Ticket
    from tickets.satisfaction import coverage_visits
    from workspace.dashboard.access import in_scope, scope_unit_ids
    from workspace.dashboard.figures import _satisfaction
    from workspace.dashboard.periods import period_from

    if Ticket.objects.count() != args.orders:
        generate(args.orders)
    supervisor = User.objects.filter(role=User.Role.SUPERVISOR).order_by("org_unit__path").first()
    period, _error = period_from({"period": args.period})
    visits = ReturnVisit.objects.filter(in_scope(scope_unit_ids(supervisor), "ticket__org_unit"))

    def baseline():
        visit_due = Q(due_at__gte=period.start, due_at__lt=period.end)
        visited = Q(visited_at__gte=period.start, visited_at__lt=period.end)
        visits.filter(visit_due | visited).aggregate(
            scheduled=Count("ticket", distinct=True, filter=visit_due),
            scheduled_done=Count("ticket", distinct=True, filter=visit_due & Q(visited_at__isnull=False)),
            scheduled_pending=Count("ticket", distinct=True, filter=visit_due & Q(visited_at__isnull=True)),
            visited=Count("ticket", distinct=True, filter=visited),
            satisfied=Count(
                "ticket", distinct=True, filter=visited & Q(result__in=ReturnVisit.SATISFIED_RESULTS)
            ),
            dissatisfied=Count(
                "ticket", distinct=True, filter=visited & Q(result=ReturnVisit.Result.DISSATISFIED)
            ),
        )
        made = visits.filter(visited_at__gte=period.start, visited_at__lt=period.end)
        happy = Count("id", filter=Q(result__in=ReturnVisit.SATISFIED_RESULTS))
        resident = Case(
            When(ticket__customer__kind=Customer.Kind.RESIDENT, then=Value(True)), default=Value(False)
        )
        list(
            made.annotate(resident=resident)
            .values("ticket__customer__segment", "resident")
            .annotate(n=Count("id"), happy=happy)
            .order_by()
        )
        list(
            made.values("ticket__org_unit", "ticket__org_unit__name")
            .annotate(n=Count("id"), happy=happy)
            .order_by()
        )

    def now():
        coverage_visits(visits, period.start, period.end).aggregate(
            scheduled=Count("id"),
            scheduled_done=Count("id", filter=Q(visited_at__isnull=False)),
            scheduled_pending=Count("id", filter=Q(visited_at__isnull=True)),
        )
        _satisfaction(visits, period)

    baseline(), now()  # warm the caches alike
    baseline_seconds = median_seconds(baseline, args.repeat)
    now_seconds = median_seconds(now, args.repeat)
    load = os.getloadavg()
    record(
        "dashboard_satisfaction",
        {
            "orders": args.orders,
            "return_visits": ReturnVisit.objects.count(),
            "period": args.period,
            "baseline_per_visit_seconds": round(baseline_seconds, 3),
            "per_order_seconds": round(now_seconds, 3),
            "per_order_over_baseline": round(now_seconds / baseline_seconds, 2),
            "load_average_1m": round(load[0], 2),
        },
        scale={"orders": args.orders, "period": args.period, "repeat": args.repeat},
    )


if __name__ == "__main__":
    main()
