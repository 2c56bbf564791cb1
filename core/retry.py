"""The retry policy of every Celery task: transient errors only, with backoff.

A dropped database connection (a PostgreSQL restart), a broker or Redis that
does not answer, a socket that times out: the task runs again shortly. A
programming error (a TypeError, an IntegrityError, a failed validation) is
not retried, since it would fail the same way again. Tasks are idempotent, so
running one again after a transient error is safe.
"""

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

TRANSIENT_ERRORS = (
    # The built-in ones: sockets, including socket.timeout.
    ConnectionError,
    TimeoutError,
    # The database connection dropped or refused.
    OperationalError,
    InterfaceError,
    # The broker, when publishing from inside a task.
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)

# Spread as keyword arguments: @shared_task(**RETRY_TRANSIENT, soft_time_limit=..., time_limit=...).
RETRY_TRANSIENT = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    # Short countdowns only: a long one sits in the broker past its visibility
    # timeout, and the periodic scans run again within minutes anyway.
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
