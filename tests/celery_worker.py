"""A real `celery -A crm worker` process for the tests that need one.

The worker consumes one queue of the test's own, so messages of other runs
cannot reach it, and works on the test database pytest-django created. Tests
using it need PostgreSQL (a second process cannot open the in-memory SQLite
test database) and a Redis broker in REDIS_URL; `WORKER_MARKS` skips them
otherwise.

    pytestmark = WORKER_MARKS

    def test_...(transactional_db):
        queue = unique_queue("test-tickets")
        with running_worker(queue) as log_path:
            task_id = send(some_task, queue)
            assert wait_for(lambda: task_finished(log_path, task_id), timeout=60), log_path.read_text()
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from crm.celery import app as celery_app
from tests.notifications.support import celery_broker

REDIS_URL = os.environ.get("REDIS_URL", "")
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 15

WORKER_MARKS = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not REDIS_URL, reason="needs a Redis broker: set REDIS_URL"),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="needs PostgreSQL: a worker process cannot open the in-memory SQLite test database",
    ),
]


def unique_queue(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def database_url() -> str:
    """The URL of the test database pytest-django created, for the worker process."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def send(task, queue: str, **options) -> str:
    """Publish `task` to `queue` on REDIS_URL (fresh connections); returns the task id."""
    with celery_broker(REDIS_URL):
        return task.apply_async(queue=queue, retry=False, **options).id


def task_finished(log_path: Path, task_id: str) -> bool:
    """Whether the worker logged the end of task `task_id` (success or failure)."""
    return re.search(rf"\[{re.escape(task_id)}\] (succeeded|raised|failed)", _read(log_path)) is not None


@contextmanager
def running_worker(queue: str, *, log_path: Path | None = None) -> Iterator[Path]:
    """Run a worker on `queue` until the block ends; yields the path of its log.

    On the way out the worker is stopped (SIGTERM, then SIGKILL) and the
    broker forgets the queue: its list, its bindings, and the messages the
    worker itself published to queues nobody here consumes (delivery kicks go
    to the realtime queue, other kicks to theirs).
    """
    own_dir = None
    if log_path is None:
        own_dir = Path(tempfile.mkdtemp(prefix="celery-worker-"))
        log_path = own_dir / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [
        sys.executable, "-m", "celery", "-A", "crm", "worker",
        "--pool=solo", "--without-heartbeat", "--without-mingle", "--without-gossip",
        "-Q", queue, "-n", f"{queue}@%h", "--loglevel=INFO",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        ready = wait_for(
            lambda: " ready." in _read(log_path) or worker.poll() is not None, timeout=STARTUP_TIMEOUT
        )
        assert ready and worker.poll() is None, f"the worker did not start:\n{_read(log_path)}"
        yield log_path
    finally:
        _stop(worker)
        _forget(queue, worker.pid)
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


def _read(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=STOP_TIMEOUT)


def _forget(queue: str, pid: int) -> None:
    origin = f"gen{pid}@{socket.gethostname()}"
    routed = {celery_app.conf.task_default_queue, settings.REALTIME_QUEUE, settings.BULK_QUEUE}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(queue, *client.keys(f"_kombu.binding*.{queue}"))
        for routed_queue in routed:
            for message in client.lrange(routed_queue, 0, -1):
                if _origin(message) == origin:
                    client.lrem(routed_queue, 0, message)
    finally:
        client.close()


def _origin(message: bytes) -> str:
    try:
        return str((json.loads(message).get("headers") or {}).get("origin", ""))
    except (ValueError, AttributeError):
        return ""
