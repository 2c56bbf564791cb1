"""The dashboard kept in the shared cache, under a key made of the user's scope
(their unit's path, or "all"), the language and the period; it carries the
moment its figures were computed.

Figures older than DASHBOARD_CACHE_SECONDS are recomputed by a worker; until
the new ones are in, the page shows the older ones, kept for DASHBOARD_KEEP_SECONDS.
The scopes supervisors opened in the last WARM_DAYS are kept computed by beat
(`warm_dashboards`), so their first look of the day is not a cold one either.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.cache import cache
from django.http import QueryDict
from django.utils import timezone, translation

from accounts.models import User
from core import broker
from workspace.dashboard.access import can_view_dashboard, scope_path
from workspace.dashboard.figures import compute_dashboard
from workspace.dashboard.periods import Period, period_from
from workspace.dashboard.presentation import Dashboard
from workspace.models import DashboardOpening
from workspace.tasks import refresh_dashboard

logger = logging.getLogger(__name__)

DASHBOARD_CACHE_SECONDS = 60
DASHBOARD_KEEP_SECONDS = 600
CACHE_VERSION = 3
# Warming: which openings count, how often one person's opening is written, and the
# most scopes one run computes (a prefecture's figures cost about a second).
WARM_DAYS = 3
OPENING_RECORD_SECONDS = 3600
WARM_LIMIT = 200
# Beat runs the warming every WARM_INTERVAL_SECONDS; figures that would expire before
# the next run are computed again.
WARM_INTERVAL_SECONDS = 300


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
    _remember_opening(user, period, key)
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


def _remember_opening(user: User, period: Period, key: str) -> None:
    """Note that this person looks at this scope (one write an hour at most per person and key)."""
    if not cache.add(f"{key}:opened:{user.pk}", True, OPENING_RECORD_SECONDS):
        return
    DashboardOpening.objects.bulk_create(
        [
            DashboardOpening(
                user=user,
                period_query=period.query(),
                language=translation.get_language(),
                opened_at=timezone.now(),
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "period_query", "language"],
        update_fields=["opened_at"],
    )


def warm_dashboards(*, now=None) -> int:
    """Compute the dashboards opened in the last WARM_DAYS whose cached figures are
    missing or would expire before the next run; one computation per cache key, however
    many people share the scope. Returns how many were computed."""
    now = now or timezone.now()
    openings = (
        DashboardOpening.objects.filter(opened_at__gte=now - timedelta(days=WARM_DAYS))
        .select_related("user__org_unit")
        .order_by("-opened_at")
    )
    stale_after = timedelta(seconds=DASHBOARD_KEEP_SECONDS - WARM_INTERVAL_SECONDS - DASHBOARD_CACHE_SECONDS)
    seen: set[str] = set()
    computed = 0
    for opening in openings.iterator(chunk_size=500):
        if computed >= WARM_LIMIT:
            break
        user = opening.user
        if not user.is_active or not can_view_dashboard(user):
            continue
        with translation.override(opening.language):
            period, _error = period_from(QueryDict(opening.period_query))
            key = cache_key(user, period)
            if key in seen:
                continue
            seen.add(key)
            found = cache.get(key)
            if found is not None and now - found.computed_at < stale_after:
                continue
            store(user=user, period=period)
            computed += 1
    return computed
