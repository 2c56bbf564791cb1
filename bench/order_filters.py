"""A prefecture supervisor's order list under every filter: the open ranks read unit by
unit, the closed orders walking the ids past MERGE_MAX_UNITS, against every part unit by unit.

    python bench/order_filters.py [--repeat 3]   # after `make load LOAD_SCALE=prefecture`

Runs on the data `manage.py seed_scale` left in BENCH_DATABASE_URL (the load test's
people, bench/results/load_users-<database>.json), as the supervisor whose scope has the most
units. For each filter of the order list, GET /tickets/ in process, the best of
--repeat, once as the list reads today and once with every part read unit by unit
(MERGE_MAX_UNITS unbounded, how the list read before). A branch per unit reads all
of its unit's rows when none match (closed orders of an urgency none has): the
worst filter's time is the figure to watch. Prints the load average at start and end.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    best_page_ms,
    load_test_people,
    record,
    signed_in_client,
    start_page_bench,
)

FILTERS = [
    {},
    {"status": "signed"},
    {"status": "open"},
    {"status": "closed"},
    {"status": "unsigned"},
    {"status": "resolved"},
    {"deadline": "overdue"},
    {"deadline": "near"},
    {"deadline": "attention"},
    {"urgency": "2"},
    {"urgency": "0"},
    {"kind": "complaint"},
    {"created_after": "2026-01-01", "created_before": "2026-12-31"},
]


def main() -> None:
    args = start_page_bench(__doc__, repeat=3)
    from django.contrib.auth import get_user_model

    from tickets import selectors
    from tickets.models import Ticket

    people = load_test_people()
    users = get_user_model().objects.filter(username__in=[p["username"] for p in people["supervisors"]])
    user = max(users, key=lambda u: len(Ticket.objects.scope_unit_ids(u) or []))
    units = len(Ticket.objects.scope_unit_ids(user) or [])
    client = signed_in_client(user)
    limit = selectors.MERGE_MAX_UNITS
    times: dict[str, list[float]] = {"today": [], "unit_by_unit": []}
    for params in FILTERS:
        for way, merge_max in (("today", limit), ("unit_by_unit", 10**9)):
            selectors.MERGE_MAX_UNITS = merge_max
            times[way].append(best_page_ms(client, "/tickets/", params, args.repeat))
        print(
            f"  {json.dumps(params, ensure_ascii=False):55s} {times['today'][-1]:7.0f} ms, "
            f"unit by unit {times['unit_by_unit'][-1]:7.0f} ms",
            flush=True,
        )
    selectors.MERGE_MAX_UNITS = limit
    worst_today, worst_before = max(times["today"]), max(times["unit_by_unit"])
    record(
        "order_filters",
        {
            "units_in_scope": units,
            "filters": len(FILTERS),
            "worst_filter_ms": round(worst_today),
            "worst_filter_unit_by_unit_ms": round(worst_before),
            "worst_filter_speedup": round(worst_before / worst_today, 1),
            "sum_ms": round(sum(times["today"])),
            "sum_unit_by_unit_ms": round(sum(times["unit_by_unit"])),
        },
        scale={"repeat": args.repeat},
    )


if __name__ == "__main__":
    main()
