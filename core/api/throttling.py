"""Request rate limits per user and per anonymous client (rates in settings.REST_FRAMEWORK).

Throttling must never be the reason a request fails: when the cache that
keeps the request history is unreachable (a Redis cache that is down), the
request is let through and a warning logged.
"""

import logging

from rest_framework import throttling

logger = logging.getLogger(__name__)


class FailOpenMixin:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning(
                "throttle cache unavailable, request let through (scope %s)", self.scope, exc_info=True
            )
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    pass
