"""Independent units of database work on several connections at once.

Threads rather than processes or broker messages: the work is a statement the
database runs (the thread waits on its socket, without the GIL), and a unit that
a killed worker leaves undone is found again by whatever claims the whole job —
nothing is queued per unit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import translation

T = TypeVar("T")

_END = object()


def can_run_in_parallel(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether other connections may do the work: PostgreSQL, and no transaction open here
    (another connection would neither see this one's uncommitted rows nor be undone with
    them). SQLite writes one transaction at a time: threads would only queue for its lock."""
    connection = connections[using]
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def in_parallel(items: Iterable[T], work: Callable[[T], bool], *, threads: int) -> bool:
    """Call `work(item)` for every item, in order of starting, on up to `threads` threads,
    each with a database connection of its own (closed at its end) and the caller's
    language; one after the other in this thread when `can_run_in_parallel` says no.

    `work` returns False to stop: no further item starts (those under way finish). An
    exception stops them likewise and is raised here once every thread has ended.
    Returns True when every item was done."""
    items = list(items)
    if threads <= 1 or len(items) <= 1 or not can_run_in_parallel():
        return all(work(item) for item in items)
    pending = iter(items)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []
    language = translation.get_language()

    def run() -> None:
        try:
            with translation.override(language):
                while not stop.is_set():
                    with lock:
                        item = next(pending, _END)
                    if item is _END:
                        return
                    if not work(item):
                        stop.set()
        except BaseException as error:  # re-raised in the caller's thread below
            errors.append(error)
            stop.set()
        finally:
            connections.close_all()

    workers = [
        threading.Thread(target=run, name=f"in-parallel-{number}", daemon=True)
        for number in range(min(threads, len(items)))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return not stop.is_set()
