from celery import shared_task


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def refresh_dashboard(user_id: int, period_query: str, language: str) -> None:
    """Compute a supervisor's dashboard anew and put it in the shared cache
    (asked for by workspace.dashboard.cache.dashboard_for when the cached one is old)."""
    from django.http import QueryDict
    from django.utils import translation

    from accounts.models import User
    from workspace.dashboard.access import can_view_dashboard
    from workspace.dashboard.cache import store
    from workspace.dashboard.periods import period_from

    user = User.objects.select_related("org_unit").filter(pk=user_id).first()
    if user is None or not can_view_dashboard(user):
        return
    with translation.override(language):
        period, _error = period_from(QueryDict(period_query))
        store(user=user, period=period)


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=280)
def warm_dashboards() -> None:
    """Keep the dashboards supervisors opened lately computed (beat, every few minutes)."""
    from workspace.dashboard.cache import warm_dashboards as warm

    warm()
