"""Shared set-up for the benchmarks: a PostgreSQL database of their own, timing, results.

Every benchmark measures its subject and a baseline in the same run and reports
the ratio, because absolute times drift on shared machines.
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.json"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench"


def setup_django() -> None:
    """Point Django at the benchmark database (created if missing) and migrate it."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://localhost/")
    # Production-like: no per-query debug logging inflating the timings.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x9Q2" * 12)
    _create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(url: str) -> None:
    import psycopg
    from dj_database_url import parse
    from psycopg import sql

    config = parse(url)
    if "postgresql" not in config["ENGINE"]:
        raise SystemExit("the benchmarks need PostgreSQL: set BENCH_DATABASE_URL")
    with psycopg.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"],
        port=config["PORT"] or 5432,
        autocommit=True,
    ) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


@contextmanager
def timed():
    """with timed() as t: ...; t.seconds"""

    class Timer:
        seconds = 0.0

    timer = Timer()
    start = time.perf_counter()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - start


def median_seconds(function, repeat: int) -> float:
    """The median time of `repeat` calls of `function`: one slow call on a shared machine moves it little."""
    times = []
    for _ in range(repeat):
        with timed() as t:
            function()
        times.append(t.seconds)
    return statistics.median(times)


def vacuum_analyze() -> None:
    """The statistics and the visibility map, as autovacuum keeps them on a live table
    (it is off on the project's machines). Without the map an index-only scan reads
    every row's page as well. Then a checkpoint, where the role may ask for one. Inside a
    transaction (a test) VACUUM cannot run: statistics only."""
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("ANALYZE")
            return
        cursor.execute("VACUUM ANALYZE")
        # The pages generating and vacuuming dirtied, written out now rather than by the
        # checkpointer during the measurement that follows (superuser or pg_checkpoint).
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")


class QueryCounter:
    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counted_queries():
    """Count the SQL statements Django sends inside the block (without keeping them), on this
    thread's connection and on those other threads open meanwhile (core.parallel)."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    counter = QueryCounter()

    def count_there_too(sender, connection, **kwargs):
        if counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)

    connection_created.connect(count_there_too, weak=False)
    try:
        with connection.execute_wrapper(counter):
            yield counter
    finally:
        connection_created.disconnect(count_there_too)


# The machine is shared: every benchmark says how loaded it was from its start to its record.
_STARTED = time.monotonic()
_LOAD_AT_START = os.getloadavg()


def record(name: str, figures: dict, *, scale: dict | None = None) -> dict:
    """Merge one benchmark's figures into bench/results/latest.json and print them.

    Each benchmark keeps one entry, replaced by its next run:
    {"scale": {...sizes...}, "date": ISO UTC, "command": how it was run, "figures": {...}}.
    """
    entry = {
        "scale": scale or {},
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": " ".join(["python", _relative(sys.argv[0]), *sys.argv[1:]]),
        "figures": figures,
        "seconds": round(time.monotonic() - _STARTED, 1),
        "load_average": {
            "start": [round(value, 2) for value in _LOAD_AT_START],
            "end": [round(value, 2) for value in os.getloadavg()],
        },
    }
    merge_result(name, entry)
    width = max(len(key) for key in figures)
    print(f"\n{name}  {scale or ''}")
    load = entry["load_average"]
    print(f"  ran {entry['seconds']} s; load average at start {load['start'][0]}, at end {load['end'][0]}")
    for key, value in figures.items():
        print(f"  {key.ljust(width)}  {shown(value)}")
    return entry


def merge_result(name: str, entry: dict, path: Path = RESULTS) -> None:
    """Replace one benchmark's entry in the shared results file, keeping the others.

    Benchmarks may finish at the same moment: the read-merge-write holds a
    lock, and the file is replaced whole, never left half written.
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(path.read_text()) if path.exists() else {}
        results[name] = entry
        fresh = path.with_name(path.name + ".tmp")
        fresh.write_text(json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        os.replace(fresh, path)


def shown(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def grid():
    """The org tree, people, lines and districts every benchmark works in (created once)."""
    from accounts.models import OrgUnit, User
    from customers.models import District, Line

    province, _ = OrgUnit.objects.get_or_create(code="BGZ", defaults={"name": "省公司", "level": 1})
    county, _ = OrgUnit.objects.get_or_create(
        code="BLS", defaults={"name": "县供电局", "level": 3, "parent": province}
    )
    stations = [
        OrgUnit.objects.get_or_create(
            code=f"BST{i}", defaults={"name": f"供电所{i}", "level": 4, "parent": county}
        )[0]
        for i in range(10)
    ]
    supervisor, _ = User.objects.get_or_create(
        username="bench-supervisor", defaults={"real_name": "主管", "org_unit": county, "role": "supervisor"}
    )
    managers = [
        User.objects.get_or_create(
            username=f"bench-manager-{i}", defaults={"real_name": f"经理{i}", "org_unit": stations[i % 10]}
        )[0]
        for i in range(50)
    ]
    lines = [
        Line.objects.get_or_create(code=f"BXL{i}", defaults={"name": f"10kV线{i}", "station": stations[i]})[0]
        for i in range(10)
    ]
    districts = [
        District.objects.get_or_create(
            code=f"BTQ{i}", defaults={"name": f"台区{i}", "station": stations[i % 10], "line": lines[i % 10]}
        )[0]
        for i in range(100)
    ]
    return supervisor, stations, districts, managers


def serve_pages_in_process() -> None:
    """Let Django's test client open the pages in this process: its host allowed, and plain
    static URLs instead of the hashed manifest (no collectstatic for a benchmark)."""
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def start_page_bench(doc: str, *, repeat: int) -> argparse.Namespace:
    """The start of a benchmark that opens pages of the load test's data in process: its
    `--repeat` option read, Django set up on the benchmark database, the pages servable."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=repeat)
    args = parser.parse_args()
    setup_django()
    serve_pages_in_process()
    return args


def load_users_file(database: str) -> Path:
    """The people the load test plays in `database` (a database name), which
    bench/generate.py writes with that database's data: one file per database, so
    that a benchmark seeding a database of its own leaves another's people as they are."""
    return ROOT / "bench" / "results" / f"load_users-{database}.json"


def load_test_people() -> dict:
    """The load test's people of the database Django is connected to."""
    from django.db import connection

    path = load_users_file(connection.settings_dict["NAME"])
    if not path.exists():
        raise SystemExit(f"{path.name} is missing: seed this database first (manage.py seed_scale)")
    return json.loads(path.read_text())


def signed_in_client(user):
    """Django's test client signed in as `user`, over HTTPS as the site is served."""
    from django.test import Client

    client = Client(HTTP_X_FORWARDED_PROTO="https", secure=True)
    client.force_login(user)
    return client


def best_page_ms(client, path: str, params: dict, repeat: int) -> float:
    """The quickest of `repeat` GETs of a page, in milliseconds; any answer but 200 stops the run."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, params)
        best = min(best, time.perf_counter() - started)
        assert response.status_code == 200, (path, params, response.status_code)
    return best * 1000
