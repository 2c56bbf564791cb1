"""Start gunicorn and a Celery worker on the benchmark database, run locust headless, record the summary.

    python bench/load/run.py [--time 5m] [--users 30] [--spawn-rate 5] [--port 8055]
                             [--workers 2] [--threads 1]

The database must be migrated and seeded (`manage.py seed_scale`; `make load`
does both). gunicorn runs as in production (DEBUG off, static files collected
and served by whitenoise, gunicorn.conf.py) with the given workers and
threads; one Celery worker (no beat: the seeded orders would all fall due at
once) takes the tasks the pages ask for, through Redis (LOAD_REDIS_URL),
which is also the shared cache. Locust writes its CSV statistics to
bench/results/load_*.csv, and the summary (requests/s and p50/p95/p99 per
page, errors) goes into bench/results/latest.json as "load".
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dj_database_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_DATABASE_URL, load_users_file, record  # noqa: E402

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
CSV_PREFIX = RESULTS / "load"
SYNC_PAGES = {"integration: sync page"}
# Logging in happens once a day (PBKDF2 is slow on purpose); a bulk upsert is
# a batch write of the API, with its own figure.
NOT_PAGES = {"Aggregated", "login", "login page", "integration: bulk upsert"}


def server_environment(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    env.setdefault("DEBUG", "0")
    env.setdefault("SECRET_KEY", "bench-only-" + "x9Q2" * 12)
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    # TLS would end at a proxy in front; the load test says so with X-Forwarded-Proto.
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    env.setdefault("SECURE_HSTS_PRELOAD", "0")
    # A worker runs beside the server, as in production: Redis is its broker
    # and the cache it shares with the web processes (databases of their own).
    redis = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379")
    env["CELERY_BROKER_URL"] = f"{redis}/2"
    env["CACHE_URL"] = f"{redis}/3"
    env.setdefault("STATIC_ROOT", str(ROOT / "var" / "bench-static"))
    return env


# What each part of the test spent of the machine's cores, read off /proc (Linux):
# the server, its worker, the database and the load generator share the cores here.
COMPONENTS = {
    "gunicorn": "web (gunicorn)",
    "celery": "worker (celery)",
    "postgres": "database (postgres)",
    "redis-server": "cache and broker (redis)",
}
LOAD_GENERATOR = "load generator (locust)"


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far per component, children that ended included (a
    postgres backend that closed is counted in its parent's children's time); locust,
    a child of this script, once it has ended."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = dict.fromkeys(COMPONENTS.values(), 0.0)
    used[LOAD_GENERATOR] = children.ru_utime + children.ru_stime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command name, which may hold spaces: state is field 3.
        fields = stat.rsplit(")", 1)[1].split()
        own, children = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        for marker, component in COMPONENTS.items():
            if name.startswith(marker):
                used[component] += (own + children) / ticks
                break
    return used


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict:
    """Per component: CPU seconds during the run and the share of one core they make."""
    return {
        component: {
            "cpu_seconds": round(after[component] - before[component], 1),
            "cores": round((after[component] - before[component]) / seconds, 2),
        }
        for component in before
    }


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer on port {port} within {timeout:.0f} s")


def read_stats(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def summary(rows: list[dict], *, users: int, run_time: str) -> dict:
    """Throughput, errors and p50/p95/p99 per page from locust's *_stats.csv."""
    pages = {}
    total = next(row for row in rows if row["Name"] == "Aggregated")
    for row in rows:
        if row["Name"] == "Aggregated":
            continue
        pages[f"{row['Type']} {row['Name']}"] = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "requests_per_second": round(float(row["Requests/s"]), 2),
            "p50_ms": int(float(row["50%"] or 0)),
            "p95_ms": int(float(row["95%"] or 0)),
            "p99_ms": int(float(row["99%"] or 0)),
            "max_ms": int(float(row["Max Response Time"] or 0)),
        }
    page_p95 = [
        figures["p95_ms"]
        for name, figures in pages.items()
        if name.split(" ", 1)[1] not in NOT_PAGES | SYNC_PAGES
    ]
    sync_p95 = [figures["p95_ms"] for name, figures in pages.items() if name.split(" ", 1)[1] in SYNC_PAGES]
    worst = max(page_p95, default=0)
    sync = max(sync_p95, default=0)
    bulk = pages.get("POST integration: bulk upsert", {}).get("p95_ms", 0)
    # Requests are named "<persona>: <page>": the worst page of each persona.
    by_persona: dict[str, int] = {}
    for name, figures in pages.items():
        page = name.split(" ", 1)[1]
        if page in NOT_PAGES | SYNC_PAGES or ": " not in page:
            continue
        persona = page.split(": ", 1)[0]
        by_persona[persona] = max(by_persona.get(persona, 0), figures["p95_ms"])
    return {
        "users": users,
        "run_time": run_time,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "requests_per_second": round(float(total["Requests/s"]), 2),
        "p50_ms": int(float(total["50%"] or 0)),
        "p95_ms": int(float(total["95%"] or 0)),
        "p99_ms": int(float(total["99%"] or 0)),
        "pages_p95_ms_max": worst,
        "sync_page_p95_ms": sync,
        "bulk_upsert_p95_ms": bulk,
        "goal_no_errors": "met" if int(total["Failure Count"]) == 0 else "missed",
        "goal_pages_p95_under_300ms": "met" if worst <= 300 else "missed",
        "worst_page_p95_ms_by_persona": by_persona,
        "goal_sync_page_p95_under_100ms": "met" if sync <= 100 else "missed",
        "goal_bulk_upsert_p95_under_300ms": "met" if bulk <= 300 else "missed",
        "pages": pages,
    }


def export_wait(waits: list[int]) -> dict:
    """How long managers waited from asking for a large export to having its file (the
    export's page, its refreshes each second and the download): not a page, a wait."""
    waits = sorted(waits)
    if not waits:
        return {"exports": 0}

    def at(share: float) -> int:
        return waits[min(len(waits) - 1, int(share * len(waits)))]

    return {"exports": len(waits), "p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": waits[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time", default=os.environ.get("LOAD_TIME", "5m"))
    parser.add_argument("--users", type=int, default=int(os.environ.get("LOAD_USERS", 30)))
    parser.add_argument("--spawn-rate", type=float, default=float(os.environ.get("LOAD_SPAWN_RATE", 1)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", 1)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", 8055)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("LOAD_WORKERS", 2)))
    parser.add_argument(
        "--scale", default=os.environ.get("LOAD_SCALE", "small"), help="recorded with the figures"
    )
    parser.add_argument(
        "--summarize-only",
        action="store_true",
        help="record the summary of the last run's CSV again; run nothing",
    )
    args = parser.parse_args()
    if not args.summarize_only:
        (RESULTS / "load_exports.json").unlink(missing_ok=True)
        run(args)
    figures = summary(read_stats(Path(f"{CSV_PREFIX}_stats.csv")), users=args.users, run_time=args.time)
    usage = RESULTS / "load_cpu.json"
    if usage.exists():
        figures["cpu_by_component"] = json.loads(usage.read_text())
    waits = RESULTS / "load_exports.json"
    if waits.exists():
        figures["export_wait"] = export_wait(json.loads(waits.read_text()))
    record(
        "load",
        figures,
        scale={
            "scale": args.scale,
            "users": args.users,
            "spawn_rate": args.spawn_rate,
            "time": args.time,
            "gunicorn_workers": args.workers,
            "gunicorn_threads": args.threads,
        },
    )


def run(args) -> None:
    """Static files collected, gunicorn up, locust for the given time, gunicorn down."""
    env = server_environment(args.port)
    # The people seeded with the data served: another database's would answer 404s.
    people = load_users_file(dj_database_url.parse(env["DATABASE_URL"])["NAME"])
    if not people.exists():
        raise SystemExit(f"{people} is missing: seed the database first (manage.py seed_scale)")
    subprocess.run(
        [str(BIN / "python"), "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    server_log = (RESULTS / "load_gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "crm.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--access-logfile",
            "-",
            # The time each request spent in the server (ms, last field), to set against what
            # the client waited: the difference is the wait for a free process.
            "--access-logformat",
            '%(t)s "%(r)s" %(s)s %(b)s %(M)s',
        ],
        cwd=ROOT,
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "crm",
            "worker",
            "-Q",
            "realtime,bulk",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_up(args.port, server)
        before, started = cpu_seconds(), time.monotonic()
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(ROOT / "bench" / "load" / "locustfile.py"),
                "--headless",
                "--host",
                f"http://127.0.0.1:{args.port}",
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.spawn_rate),
                "--run-time",
                args.time,
                "--csv",
                str(CSV_PREFIX),
                "--only-summary",
                "--stop-timeout",
                "10",
            ],
            cwd=ROOT,
            env={**os.environ, "LOAD_PEOPLE_FILE": str(people)},
            check=False,  # locust exits 1 when any request failed; the summary says which
        )
        usage = cpu_share(before, cpu_seconds(), time.monotonic() - started)
        (RESULTS / "load_cpu.json").write_text(json.dumps(usage, ensure_ascii=False, indent=1))
        for component, figures in usage.items():
            print(f"{component:28s} {figures['cpu_seconds']:8.1f} CPU s  {figures['cores']:5.2f} cores")
    finally:
        # Only the processes this script started, and their children.
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        server_log.close()


if __name__ == "__main__":
    main()
