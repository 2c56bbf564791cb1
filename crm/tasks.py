from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from crm.models import IdempotentRequest


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def purge_idempotency_keys() -> int:
    """Hourly: forget stored API responses older than IDEMPOTENCY_KEY_TTL_HOURS.

    A client retries within minutes; a day's window is generous. Deleting by
    the indexed created_at is one statement.
    """
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def refresh_dashboard(user_id: int, period_query: str, language: str) -> None:
    """Compute a supervisor's dashboard anew and put it in the shared cache
    (asked for by crm.dashboard.dashboard_for when the cached one is old)."""
    from django.http import QueryDict
    from django.utils import translation

    from accounts.models import User
    from crm import dashboard

    user = User.objects.select_related("org_unit").filter(pk=user_id).first()
    if user is None or not dashboard.can_view_dashboard(user):
        return
    with translation.override(language):
        period, _error = dashboard.period_from(QueryDict(period_query))
        dashboard.store(user=user, period=period)
