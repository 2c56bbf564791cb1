"""Request rate limits per user and per anonymous client (rates in settings.REST_FRAMEWORK).

Counting: one counter per client and fixed window (`<scope>:<ident>:<window>`)
in the shared cache, created with `add` and raised with `incr`. Both are single
atomic operations in Redis (SET NX, INCRBY) and in the file cache
(core.cache.LockedFileBasedCache), so N concurrent requests count N, in every
process. DRF's own throttle reads a list of timestamps, appends and writes it
back: two requests at once both read the same list and one of them is lost.

Every answer says where the client stands, in the fields of the IETF draft
"RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers):
`RateLimit-Policy: "user";q=1200;w=60` (the quota per window) and
`RateLimit: "user";r=1187;t=42` (requests remaining, seconds until the window
resets); a 429 adds `Retry-After` (seconds).

Throttling must never be the reason a request fails: when the cache is
unreachable (a Redis cache that is down), the request is let through and a
warning logged.
"""

import logging
import math

from rest_framework import throttling

from core.client import client_address

logger = logging.getLogger(__name__)

# Where the throttles leave their state for the response headers (core.middleware.ApiHeadersMiddleware).
STATE_ATTRIBUTE = "rate_limits"


class AtomicRateThrottle(throttling.SimpleRateThrottle):
    """A fixed-window counter raised atomically in the cache."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"{self.key}:{window}"
        # The counter outlives its window a little, so a late increment never finds it gone.
        self.cache.add(key, 0, self.duration + 5)
        try:
            count = self.cache.incr(key)
        except ValueError:
            # Expired or evicted between add and incr: start it again.
            self.cache.add(key, 0, self.duration + 5)
            count = self.cache.incr(key)
        self.reset = max(1, math.ceil((window + 1) * self.duration - now))
        self.remaining = max(0, self.num_requests - count)
        self._record(request)
        return count <= self.num_requests

    def get_ident(self, request) -> str:
        # DRF's own trusts X-Forwarded-For when NUM_PROXIES is unset: rotating it escaped the limit.
        return client_address(request) or ""

    def wait(self) -> float:
        return self.reset

    def _record(self, request) -> None:
        target = getattr(request, "_request", request)
        states = getattr(target, STATE_ATTRIBUTE, None)
        if states is None:
            states = []
            setattr(target, STATE_ATTRIBUTE, states)
        states.append((self.scope, self.num_requests, self.duration, self.remaining, self.reset))


def rate_limit_headers(states: list[tuple[str, int, int, int, int]]) -> dict[str, str]:
    """The RateLimit and RateLimit-Policy fields for the throttles that counted a request."""
    if not states:
        return {}
    policies = [f'"{scope}";q={quota};w={window}' for scope, quota, window, _r, _t in states]
    limits = [f'"{scope}";r={remaining};t={reset}' for scope, _q, _w, remaining, reset in states]
    return {"RateLimit-Policy": ", ".join(policies), "RateLimit": ", ".join(limits)}


class FailOpenMixin:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning(
                "throttle cache unavailable, request let through (scope %s)", self.scope, exc_info=True
            )
            return True


# DRF's classes give the cache keys (the user's id, or the client's address); counting is ours.
class AnonRateThrottle(FailOpenMixin, AtomicRateThrottle, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, AtomicRateThrottle, throttling.UserRateThrottle):
    pass
