"""The CPU of the load test's pages, one request at a time in process, each persona.

    python bench/page_cpu.py [--scale small] [--keep] [--repeat 9] [--rounds 2]

Seeds the benchmark database with `seed_scale --scale SCALE --wipe` (unless
--keep: the data and bench/results/load_users.json of an earlier seeding, of
that scale, are used as they are; `make bench` seeds just before), then GETs
every page the load test (bench/load/locustfile.py) opens, as the personas it
plays, through Django's test client: the CPU time of
the process per request (the median of --repeat), its queries, and a mean
weighted as often as the load test asks for each page.

Same run, alternated: the pages with the choice labels read from a table per
field and language (core/choices.py) and with Django's own get_FOO_display(),
which translates every label of the field at each call. Reports the ratio of
the weighted means and the load average at the start and the end.
"""

import argparse
import json
import os
import statistics
import sys
import time
from functools import partialmethod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, record, setup_django  # noqa: E402

PEOPLE_FILE = RESULTS.parent / "load_users.json"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def pages(people: dict) -> list[tuple[str, str, str, dict, float]]:
    """(name, username or token, path, params, weight): the load test's pages and how often it
    opens each (task weights, the persona's weight spread over its pages)."""
    manager = people["managers"][0]
    customer, order = manager["customers"][0], manager["orders"][0]
    found = [
        ("manager: workbench", manager["username"], "/", {}, 4),
        ("manager: customer search", manager["username"], "/customers/", {"q": "客户1"}, 3),
        ("manager: customer list", manager["username"], "/customers/", {}, 1),
        ("manager: customer 360", manager["username"], f"/customers/{customer}/", {}, 4),
        ("manager: customer timeline", manager["username"], f"/customers/{customer}/timeline/", {}, 4),
        ("manager: order detail", manager["username"], f"/tickets/{order}/", {}, 2),
        ("manager: order list", manager["username"], "/tickets/", {}, 2),
        ("manager: group list", manager["username"], "/groups/", {}, 2),
        ("manager: outage list", manager["username"], "/outages/", {}, 1),
        ("manager: customer export", manager["username"], "/customers/export.xlsx", {}, 1),
    ]
    if manager.get("groups"):
        found.append(
            ("manager: group detail", manager["username"], f"/groups/{manager['groups'][0]}/", {}, 2)
        )
    for supervisor in {person["level"]: person for person in people["supervisors"]}.values():
        level, username = supervisor["level"], supervisor["username"]
        # Three supervisor personas beside six managers: a third of a manager's weight each.
        for name, path, params, weight in [
            ("dashboard", "/dashboard/", {"period": "7d"}, 3),
            ("order list", "/tickets/", {}, 3),
            ("customer list", "/customers/", {}, 2),
            ("customer search", "/customers/", {"q": "客户1"}, 2),
            ("group list", "/groups/", {}, 2),
            ("outage list", "/outages/", {}, 1),
            ("dashboard export", "/dashboard/export.xlsx", {"period": "7d"}, 1),
        ]:
            found.append((f"{level}: {name}", username, path, params, weight / 3))
        if supervisor["orders"]:
            found.append(
                (f"{level}: order detail", username, f"/tickets/{supervisor['orders'][0]}/", {}, 2 / 3)
            )
        if supervisor["groups"]:
            found.append(
                (f"{level}: group detail", username, f"/groups/{supervisor['groups'][0]}/", {}, 2 / 3)
            )
        if supervisor["outages"]:
            found.append(
                (f"{level}: outage page", username, f"/outages/{supervisor['outages'][0]}/", {}, 1 / 3)
            )
    token = people["sync_clients"][0]["token"]
    found.append(("integration: sync page", f"token:{token}", "/api/v1/customers/sync/", {}, 5 / 6))
    return found


def measure(clients: dict, page_list, repeat: int) -> dict[str, tuple[float, int]]:
    """{page: (median CPU ms of a request, queries)}."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    found = {}
    for name, who, path, params, _weight in page_list:
        client = clients[who]
        seconds = []
        for _ in range(repeat):
            started = time.process_time()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path, params, secure=True)
            seconds.append(time.process_time() - started)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {response.status_code}")
        found[name] = (statistics.median(seconds) * 1000, len(queries))
    return found


def weighted(found: dict, page_list) -> float:
    weights = {name: weight for name, _who, _path, _params, weight in page_list}
    return sum(found[name][0] * weights[name] for name in found) / sum(weights.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=["small", "county", "prefecture"])
    parser.add_argument("--keep", action="store_true", help="use the data already seeded")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    load_at_start = load_average()
    print(f"load average at start: {load_at_start}")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    setup_django()

    from django.apps import apps
    from django.core.management import call_command
    from django.db import models
    from django.test import Client

    from accounts.models import User
    from core.choices import ChoiceLabels

    if not args.keep or not PEOPLE_FILE.exists():
        call_command("seed_scale", scale=args.scale, wipe=True, verbosity=0)
    people = json.loads(PEOPLE_FILE.read_text())
    page_list = pages(people)
    clients = {}
    for _name, who, *_rest in page_list:
        if who in clients:
            continue
        if who.startswith("token:"):
            clients[who] = Client(HTTP_AUTHORIZATION=f"Token {who.removeprefix('token:')}")
        else:
            clients[who] = Client()
            clients[who].force_login(User.objects.get(username=who))
    measure(clients, page_list, 1)  # templates compiled, caches warm

    # Each model's get_FOO_display() bound to Django's own method, as Django binds it
    # (Field.contribute_to_class), and back.
    bound = [
        (model, f"get_{field.name}_display", field)
        for model in apps.get_models()
        if issubclass(model, ChoiceLabels)
        for field in model._meta.concrete_fields
        if field.choices and f"get_{field.name}_display" in model.__dict__
    ]
    tables = {(model, name): model.__dict__[name] for model, name, _field in bound}
    runs = {"tables": [], "django": []}
    for _round in range(args.rounds):
        runs["tables"].append(measure(clients, page_list, args.repeat))
        for model, name, field in bound:
            setattr(model, name, partialmethod(models.Model._get_FIELD_display, field=field))
        try:
            runs["django"].append(measure(clients, page_list, args.repeat))
        finally:
            for (model, name), method in tables.items():
                setattr(model, name, method)

    def best(kind: str) -> dict:
        return {
            name: (min(run[name][0] for run in runs[kind]), runs[kind][0][name][1]) for name in runs[kind][0]
        }

    now, before = best("tables"), best("django")
    now_mean, before_mean = weighted(now, page_list), weighted(before, page_list)
    load_at_end = load_average()
    print(f"load average at end: {load_at_end}")
    record(
        "page_cpu",
        {
            "pages": len(page_list),
            "weighted_cpu_ms_per_request": round(now_mean, 1),
            "weighted_cpu_ms_with_djangos_display": round(before_mean, 1),
            "speedup_choice_tables": round(before_mean / now_mean, 2),
            "cpu_ms_by_page": {
                name: round(ms, 1) for name, (ms, _q) in sorted(now.items(), key=lambda i: -i[1][0])
            },
            "cpu_ms_by_page_with_djangos_display": {name: round(ms, 1) for name, (ms, _q) in before.items()},
            "queries_by_page": {name: queries for name, (_ms, queries) in now.items()},
            "load_average_start": load_at_start,
            "load_average_end": load_at_end,
        },
        scale={"scale": args.scale, "repeat": args.repeat, "rounds": args.rounds},
    )


if __name__ == "__main__":
    main()
