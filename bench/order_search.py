"""The order list's text filter (`q`) for each persona: the matches found first
through their indexes, against the plain OR across the order and its customer.

    python bench/order_search.py [--repeat 3]   # after `make load LOAD_SCALE=prefecture`

Runs on the data `manage.py seed_scale` left in BENCH_DATABASE_URL, as the load
test's people (bench/results/load_users-<database>.json): the prefecture and a county
supervisor and an account manager. For each term (an order's number or part of
it, a customer's name, a 户号 or its start, a word no order holds, a word every
order holds), GET /tickets/?q= in process, the best of --repeat, once as the list
reads today (tickets.search) and once reading the plain OR (ORDER_MATCH_LIMIT
below zero: no term is ever listed). A term that matches little made the plain
read test the OR on every order of the scope: the worst term's time is the
figure to watch. Prints the load average at start and end.
"""

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


def terms_of(people: dict) -> list[tuple[str, str]]:
    """(what it is, the term), taken from the data the load test's people see."""
    manager = people["managers"][0]
    order = manager["orders"][0]
    customer = manager["customers"][0]
    return [
        ("order number", order),
        ("part of an order number", order[-7:]),
        ("customer name", f"客户{int(customer[-6:])}"),
        ("户号", customer),
        ("start of a 户号", customer[:8]),
        ("start of many names", f"客户{str(int(customer[-6:]))[:2]}"),
        ("digits in many places", "9999"),
        ("one digit", "4"),
        ("a word no order holds", "停电"),
        ("a word every order holds", "客户"),
    ]


def main() -> None:
    args = start_page_bench(__doc__, repeat=3)
    from django.contrib.auth import get_user_model

    from tickets import search

    people = load_test_people()
    personas = {
        "prefecture supervisor": next(p for p in people["supervisors"] if p["level"] == "prefecture"),
        "county supervisor": next(p for p in people["supervisors"] if p["level"] == "county"),
        "account manager": people["managers"][0],
    }
    terms = terms_of(people)
    limit = search.ORDER_MATCH_LIMIT
    times: dict[str, list[float]] = {"today": [], "plain": []}
    for persona, person in personas.items():
        client = signed_in_client(get_user_model().objects.get(username=person["username"]))
        for what, term in terms:
            for way, match_limit in (("today", limit), ("plain", -1)):
                search.ORDER_MATCH_LIMIT = match_limit
                times[way].append(best_page_ms(client, "/tickets/", {"q": term}, args.repeat))
            print(
                f"  {persona:22s} {what:26s} {term:14s} {times['today'][-1]:7.0f} ms, "
                f"plain OR {times['plain'][-1]:7.0f} ms",
                flush=True,
            )
    search.ORDER_MATCH_LIMIT = limit
    worst_today, worst_plain = max(times["today"]), max(times["plain"])
    record(
        "order_search",
        {
            "searches": len(times["today"]),
            "worst_search_ms": round(worst_today),
            "worst_search_plain_ms": round(worst_plain),
            "worst_search_speedup": round(worst_plain / worst_today, 1),
            "sum_ms": round(sum(times["today"])),
            "sum_plain_ms": round(sum(times["plain"])),
        },
        scale={"repeat": args.repeat, "personas": len(personas)},
    )


if __name__ == "__main__":
    main()
