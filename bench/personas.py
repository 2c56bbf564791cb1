"""Every persona's pages, one request at a time, on the load test's data (in process).

    BENCH_DATABASE_URL=postgres://.../crm_bench python bench/personas.py [--repeat 5]

Reads the database `manage.py seed_scale` filled (the prefecture: 1,000,000
customers, orders and group messages) and plays the load test's people
(bench.common.load_test_people): an account manager and a supervisor of a
station, a county and the prefecture, plus a sync client. For each it opens
the pages the load test opens (the same addresses, the samples each may
see), one at a time, and reports each page's median of --repeat requests,
the worst page per persona, and the single-request goals at this
size: the prefecture supervisor's group list ≤ 150 ms and customer list
≤ 100 ms, the dashboard's first look (its cache emptied) ≤ 300 ms for a county
and ≤ 600 ms for the prefecture. The load average is printed at the start
and the end: the machine is shared, and a page's time is only worth as much
as the quiet it was measured in. It writes only the sessions of its logins
and the dashboard's openings (as a supervisor's look does).
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_test_people, record, signed_in_client, start_page_bench  # noqa: E402

# The single-request goals at a prefecture's size, in ms: (persona, page) → at most.
GOALS = {
    ("prefecture", "group list"): 150,
    ("prefecture", "customer list"): 100,
    ("county", "dashboard, first look"): 300,
    ("prefecture", "dashboard, first look"): 600,
}
ORDER_FILTERS = {"": {}, ", signed": {"status": "signed"}, ", overdue": {"deadline": "overdue"}}


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def manager_pages(person: dict) -> dict:
    """The account manager's pages; those of one customer, order or group for the first of each
    the person may open, where there is one."""
    pages = {
        "workbench": ("/", {}),
        "customer list": ("/customers/", {}),
        "customer search": ("/customers/", {"q": "客户1"}),
        "group list": ("/groups/", {}),
        "outage list": ("/outages/", {}),
        **order_list_pages(),
    }
    if person["customers"]:
        customer = person["customers"][0]
        pages["customer 360"] = (f"/customers/{customer}/", {})
        pages["customer timeline"] = (f"/customers/{customer}/timeline/", {})
    if person["orders"]:
        pages["order detail"] = (f"/tickets/{person['orders'][0]}/", {})
        pages["order search"] = ("/tickets/", {"q": person["orders"][0]})
    if person["groups"]:
        pages["group detail"] = (f"/groups/{person['groups'][0]}/", {})
    return pages


def supervisor_pages(person: dict) -> dict:
    """A supervisor's pages, as manager_pages; the order searched by its last seven digits."""
    pages = {
        "dashboard": ("/dashboard/", {"period": "7d"}),
        "dashboard export": ("/dashboard/export.xlsx", {"period": "7d"}),
        "customer list": ("/customers/", {}),
        "customer search": ("/customers/", {"q": "客户1"}),
        "group list": ("/groups/", {}),
        "outage list": ("/outages/", {}),
        **order_list_pages(),
    }
    if person["orders"]:
        pages["order search"] = ("/tickets/", {"q": person["orders"][0][-7:]})
        pages["order detail"] = (f"/tickets/{person['orders'][0]}/", {})
    if person["groups"]:
        pages["group detail"] = (f"/groups/{person['groups'][0]}/", {})
    if person["outages"]:
        pages["outage page"] = (f"/outages/{person['outages'][0]}/", {})
    return pages


def order_list_pages() -> dict:
    return {f"order list{name}": ("/tickets/", params) for name, params in ORDER_FILTERS.items()}


def median_ms(client, path: str, params: dict, repeat: int, before=None) -> float:
    """The median of `repeat` GETs of a page in ms; `before` runs ahead of each, untimed."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        response = client.get(path, params)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(times) * 1000


def main() -> None:
    args = start_page_bench(__doc__, repeat=5)
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    print(f"load average at start: {load_average()}", flush=True)
    people = load_test_people()
    users = get_user_model().objects
    personas = {"manager": (people["managers"][0], manager_pages(people["managers"][0]))}
    for level in ("station", "county", "prefecture"):
        person = next(p for p in people["supervisors"] if p["level"] == level)
        personas[level] = (person, supervisor_pages(person))

    times: dict[str, dict[str, float]] = {}
    for persona, (person, pages) in personas.items():
        client = signed_in_client(users.get(username=person["username"]))
        times[persona] = {}
        for page, (path, params) in pages.items():
            client.get(path, params)  # the templates and the connection warm
            times[persona][page] = median_ms(client, path, params, args.repeat)
        if persona != "manager":
            path, params = pages["dashboard"]
            times[persona]["dashboard, first look"] = median_ms(
                client, path, params, args.repeat, before=cache.clear
            )
        for page, ms in times[persona].items():
            print(f"  {persona:10s} {page:24s} {ms:7.1f} ms", flush=True)

    token = people["sync_clients"][0]["token"]
    sync = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_X_FORWARDED_PROTO="https", secure=True)
    sync.get("/api/v1/customers/sync/")
    times["integration"] = {"sync page": median_ms(sync, "/api/v1/customers/sync/", {}, args.repeat)}
    print(f"  integration sync page {times['integration']['sync page']:7.1f} ms", flush=True)

    figures: dict = {}
    met = 0
    for (persona, page), goal in GOALS.items():
        figures[f"{persona} {page}"] = round(times[persona][page], 1)
        met += times[persona][page] <= goal
    figures["goals met"] = met
    for persona, pages in times.items():
        worst = max(pages, key=pages.get)
        figures[f"worst {persona}"] = round(pages[worst])
        figures[f"worst {persona} page"] = worst
    figures["pages"] = sum(len(pages) for pages in times.values())
    figures["times_ms"] = {
        persona: {page: round(ms, 1) for page, ms in pages.items()} for persona, pages in times.items()
    }
    print(f"load average at end: {load_average()}", flush=True)
    record("personas", figures, scale={"repeat": args.repeat})


if __name__ == "__main__":
    main()
