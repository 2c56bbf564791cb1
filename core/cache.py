"""The shared cache: Redis, where a Redis that is down reads as an empty cache.

Web processes and Celery workers share it (the dashboard is refreshed by a
worker and read by every web process). Nothing in it is the only copy of
anything: a miss costs a recomputation, so Redis being away must cost no more
than that, never a failed page or API call (a throttle counter that cannot be
read lets the request through).
"""

import fcntl
import logging
import os

from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _tolerant(name: str, default):
    method = getattr(RedisCache, name)

    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except RedisError as exc:
            logger.warning(
                "Cache unavailable (%s during %s); carrying on without it", type(exc).__name__, name
            )
            return default

    call.__name__ = name
    call.__doc__ = method.__doc__
    return call


class TolerantRedisCache(RedisCache):
    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except RedisError as exc:
            logger.warning("Cache unavailable (%s during get); carrying on without it", type(exc).__name__)
            return default

    get_many = _tolerant("get_many", {})
    has_key = _tolerant("has_key", False)
    set = _tolerant("set", None)
    set_many = _tolerant("set_many", [])
    # add() answering False means "someone else holds it": the dashboard's
    # refresh then waits for the next request, which is the safe side.
    add = _tolerant("add", False)
    touch = _tolerant("touch", False)
    delete = _tolerant("delete", False)
    delete_many = _tolerant("delete_many", None)
    clear = _tolerant("clear", None)

    def get_or_set(self, key, default, timeout=None, version=None):
        value = self.get(key, version=version)
        if value is None:
            value = default() if callable(default) else default
            self.set(key, value, timeout=timeout, version=version)
        return value

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except RedisError as exc:
            # As if the key were missing (what incr() of an absent key says).
            raise ValueError(f"cache unavailable: {type(exc).__name__}") from exc


class LockedFileBasedCache(FileBasedCache):
    """The embedded default's cache (files under var/cache), with `incr` made atomic.

    Django's file cache reads the value, adds and writes it back, so two
    processes or threads raising a counter at once lose one increment (the
    API throttle's counters, core.api.throttling). Here the read and the write
    hold an exclusive lock on a file beside the entries, across threads and
    processes alike.
    """

    def incr(self, key, delta=1, version=None):
        os.makedirs(self._dir, exist_ok=True)
        with open(os.path.join(self._dir, "incr.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return super().incr(key, delta, version)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
