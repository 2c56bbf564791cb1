"""The dashboard kept in the shared cache, under a key made of the user's scope
(their unit's path, or "all"), the language and the period; it carries the
moment its figures were computed.

Figures older than DASHBOARD_CACHE_SECONDS are recomputed by a worker; until
the new ones are in, the page shows the older ones, kept for DASHBOARD_KEEP_SECONDS.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone, translation

from accounts.models import User
from core import broker
from workspace.dashboard.access import scope_path
from workspace.dashboard.figures import compute_dashboard
from workspace.dashboard.periods import Period
from workspace.dashboard.presentation import Dashboard
from workspace.tasks import refresh_dashboard

logger = logging.getLogger(__name__)

DASHBOARD_CACHE_SECONDS = 60
DASHBOARD_KEEP_SECONDS = 600
CACHE_VERSION = 3


def cache_key(user: User, period: Period) -> str:
    path = scope_path(user) or "all"
    days = f"{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}"
    # The version changes whenever the cached Dashboard record moves or changes
    # shape, so that no process reads a record it cannot unpickle.
    return f"crm:dashboard:{CACHE_VERSION}:{translation.get_language()}:{path}:{period.key}:{days}"


def dashboard_for(*, user: User, period: Period) -> Dashboard:
    """The dashboard from the cache, or computed now when there is none.

    Figures older than DASHBOARD_CACHE_SECONDS are still shown (the page says
    when they were computed) while a worker computes new ones: a prefecture's
    figures take a second of SQL, which the supervisor then waits for only on
    a first look, and which no web process spends more than once a minute.
    """
    key = cache_key(user, period)
    found = cache.get(key)
    if found is None:
        return store(user=user, period=period)
    if timezone.now() - found.computed_at > timedelta(seconds=DASHBOARD_CACHE_SECONDS):
        _refresh_soon(user, period, key)
    return found


def store(*, user: User, period: Period) -> Dashboard:
    """Compute the dashboard and keep it for DASHBOARD_KEEP_SECONDS."""
    key = cache_key(user, period)
    found = compute_dashboard(user=user, period=period)
    cache.set(key, found, DASHBOARD_KEEP_SECONDS)
    cache.delete(f"{key}:refreshing")
    return found


def _refresh_soon(user: User, period: Period, key: str) -> None:
    """Ask a worker for new figures, once per key: the marker stays while a
    refresh may be running, so a busy dashboard is refreshed once a minute."""
    marker = f"{key}:refreshing"
    if not cache.add(marker, True, DASHBOARD_CACHE_SECONDS):
        return
    try:
        broker.publish_once(refresh_dashboard, user.pk, period.query(), translation.get_language())
    except Exception as exc:
        # The next view of the page asks again.
        cache.delete(marker)
        logger.warning(
            "Could not ask for a dashboard refresh (%s); the figures stay as they are", type(exc).__name__
        )
