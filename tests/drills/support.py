"""Processes the drills start, stop and kill: Celery workers, beat, a private redis-server.

Built on tests/celery_worker.py (the test database's URL, waiting, reading a
worker log); unlike `running_worker` these can be SIGKILLed and restarted,
take settings through their environment, and may share one queue.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tests.celery_worker import _forget, database_url, unique_queue, wait_for
from tickets.models import Kind, Status, Ticket

REDIS_URL = os.environ.get("REDIS_URL", "")
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 15

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: concurrent transactions and a worker process on the test database",
)
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs a Redis broker: set REDIS_URL")
# A drill with a real worker on the test database and the Redis broker of REDIS_URL.
worker_drill = [pytest.mark.drill, pytest.mark.celery_worker, postgres_only, needs_redis]
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server binary to run a broker of its own"
)


def read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _process_env(broker_url: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "NO_PROXY": "127.0.0.1,localhost",
        **extra,
    }


class CeleryProcess:
    """One `celery -A crm <worker|beat>` process; start() again after kill() or stop()."""

    def __init__(self, command: list[str], *, broker_url: str, log_dir: Path, name: str, env=None):
        self.command = [sys.executable, "-m", "celery", "-A", "crm", *command]
        self.env = _process_env(broker_url, env or {})
        self.log_dir = log_dir
        self.name = name
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.pids: list[int] = []  # of every start, for what a killed process left behind
        self.ready_marker = " ready."

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def log(self) -> str:
        return "".join(read(self.log_dir / f"{self.name}-{n}.log") for n in range(1, self.starts + 1))

    def start(self, *, wait: bool = True) -> None:
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pids.append(self.process.pid)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        ready = wait_for(
            lambda: self.ready_marker in read(self.log_path) or self.process.poll() is not None,
            timeout=STARTUP_TIMEOUT,
            interval=0.05,
        )
        assert ready and self.alive(), f"{self.name} did not start:\n{read(self.log_path)}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost host does: no shutdown, no acks, no cleanup."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)


def celery_worker(*, broker_url: str, queues: str, log_dir: Path, env=None, name="worker") -> CeleryProcess:
    command = [
        "worker", "--pool=solo", "--without-heartbeat", "--without-mingle", "--without-gossip",
        "-Q", queues, "-n", f"{name}-{os.getpid()}@%h", "--loglevel=INFO",
    ]  # fmt: skip
    return CeleryProcess(command, broker_url=broker_url, log_dir=log_dir, name=name, env=env)


def drill_worker(queue_prefix: str, *, log_dir: Path, env: dict[str, str]) -> tuple[str, CeleryProcess]:
    """A worker (not started) of a queue of its own on REDIS_URL; `dismiss` it when done."""
    queue = unique_queue(queue_prefix)
    return queue, celery_worker(broker_url=REDIS_URL, queues=queue, log_dir=log_dir, env=env)


def dismiss(worker: CeleryProcess, queue: str) -> None:
    """Stop the worker and drop what any of its processes left on the broker for `queue`, queued
    or unacknowledged, so nothing of the drill comes back to a later run."""
    worker.stop()
    for pid in worker.pids:
        _forget(queue, pid)
    forget_unacked(REDIS_URL, queue)


def celery_beat(*, broker_url: str, log_dir: Path, env=None) -> CeleryProcess:
    command = ["beat", "--loglevel=INFO", "--max-interval=1", "-s", str(log_dir / "beat-schedule")]
    beat = CeleryProcess(command, broker_url=broker_url, log_dir=log_dir, name="beat", env=env)
    beat.ready_marker = "beat: Starting..."
    return beat


class RedisServer:
    """A redis-server of the drill's own on a free port: nothing persisted, killed at will."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.log_dir),
        ]  # fmt: skip
        with open(self.log_dir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        assert wait_for(self.ping, timeout=15, interval=0.05), read(self.log_dir / "redis.log")

    def ping(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)


def queue_length(url: str, queue: str) -> int:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return client.llen(queue)
    finally:
        client.close()


def forget_unacked(url: str, queue: str) -> None:
    """Drop what SIGKILLed consumers of `queue` left unacknowledged: the broker would restore it to
    the queue after the visibility timeout, long after the drill is gone."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        for tag, raw in client.hscan_iter("unacked"):
            try:
                routing_key = json.loads(raw)[2]
            except (ValueError, IndexError, TypeError):
                continue
            if routing_key == queue:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)
    finally:
        client.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


class Stopwatch:
    def __init__(self):
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started


def due_orders(*, count: int, customer, manager, unit) -> list[int]:
    """`count` orders dispatched to the manager an hour ago: signing overdue, resolving hours away."""
    opened_at = timezone.now() - timedelta(hours=1)
    Ticket.objects.bulk_create(
        Ticket(
            number=f"DR{n:08d}",
            kind=Kind.REPAIR,
            customer=customer,
            title="家中停电",
            description="客户反映家中无电。",
            org_unit=unit,
            assignee=manager,
            opened_by=manager,
            status=Status.DISPATCHED,
            sign_warn_at=opened_at + timedelta(minutes=10),
            sign_due_at=opened_at + timedelta(minutes=20),
            resolve_warn_at=opened_at + timedelta(hours=4),
            resolve_due_at=opened_at + timedelta(hours=5),
            next_escalation_at=opened_at + timedelta(minutes=20),
            escalation_step=timedelta(hours=2),
            created_at=opened_at,
        )
        for n in range(count)
    )
    return list(Ticket.objects.filter(number__startswith="DR").values_list("pk", flat=True))


def expected_reminders(ticket_ids: list[int], manager, supervisor) -> set[str]:
    """The outbox rows the SLA scan writes for `due_orders`: signing is overdue when first
    scanned, so the assignee gets the sign clock's overdue alert (no late reminder); the
    supervisor's line waits for their digest (expected_digest_lines)."""
    return {f"ticket:{pk}:r1:sign-overdue:1:{manager.pk}" for pk in ticket_ids}


def expected_digest_lines(ticket_ids: list[int], supervisor) -> set[str]:
    return {f"ticket:{pk}:r1:sign-overdue:1:{supervisor.pk}" for pk in ticket_ids}
