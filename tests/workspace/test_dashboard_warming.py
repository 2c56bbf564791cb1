"""The dashboards supervisors opened lately are kept computed by beat: the first look
of the day is no cold one, each scope is computed once however many share it, and
nobody who may no longer see a dashboard, or has not opened one for days, costs anything."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.factories import UserFactory
from workspace.dashboard import cache as dashboard_cache
from workspace.dashboard.periods import period_from
from workspace.models import DashboardOpening

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def computed(monkeypatch) -> list:
    """The scopes computed, by user and period (the computation itself runs)."""
    done: list = []
    store = dashboard_cache.store

    def counting_store(*, user, period):
        done.append((user.username, period.key))
        return store(user=user, period=period)

    monkeypatch.setattr(dashboard_cache, "store", counting_store)
    return done


def _at(moment):
    return time_machine.travel(moment, tick=False)


def _open(client, user, period="7d", at=NOW):
    client.force_login(user)
    with _at(at):
        assert client.get("/dashboard/", {"period": period}).status_code == 200


def _warm(at):
    with _at(at):
        return dashboard_cache.warm_dashboards()


def test_an_opening_is_remembered_once_an_hour_per_person_and_period(client, supervisor):
    _open(client, supervisor)
    _open(client, supervisor, at=NOW + timedelta(minutes=10))
    opening = DashboardOpening.objects.get()
    assert (opening.user, opening.period_query, opening.language) == (supervisor, "period=7d", "zh-hans")
    assert opening.opened_at == NOW

    cache.clear()  # an hour later the marker is gone
    _open(client, supervisor, at=NOW + timedelta(hours=2))
    assert DashboardOpening.objects.get().opened_at == NOW + timedelta(hours=2)
    _open(client, supervisor, period="30d", at=NOW + timedelta(hours=2))
    assert DashboardOpening.objects.count() == 2


def test_warming_computes_an_opened_scope_before_its_figures_expire(client, supervisor, computed):
    _open(client, supervisor)
    assert computed == [("wangwu", "7d")]

    # Fresh figures are left alone.
    assert _warm(NOW + timedelta(minutes=1)) == 0
    # Figures that would expire before the next run are computed again ...
    assert _warm(NOW + timedelta(minutes=5)) == 1
    # ... and figures gone from the cache (a restart, say) are computed before anyone looks.
    cache.clear()
    assert _warm(NOW + timedelta(minutes=6)) == 1
    assert computed[1:] == [("wangwu", "7d"), ("wangwu", "7d")]

    # The next look reads them: no order is read while the page is served.
    client.force_login(supervisor)
    with _at(NOW + timedelta(minutes=6, seconds=30)), CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/", {"period": "7d"}).status_code == 200
    assert not any("tickets_ticket" in query["sql"] for query in queries.captured_queries)


def test_one_computation_per_scope_however_many_people_share_it(client, supervisor, org_tree, computed):
    colleague = UserFactory(username="colleague", org_unit=org_tree["county"], role=User.Role.SUPERVISOR)
    _open(client, supervisor)
    _open(client, colleague)
    cache.clear()
    computed.clear()

    assert _warm(NOW + timedelta(minutes=1)) == 1
    assert len(computed) == 1
    with _at(NOW + timedelta(minutes=1)):
        period, _error = period_from({"period": "7d"})
        assert cache.get(dashboard_cache.cache_key(colleague, period)) is not None


def test_old_openings_and_people_who_lost_the_dashboard_cost_nothing(client, supervisor, org_tree, computed):
    former = UserFactory(username="former", org_unit=org_tree["station"], role=User.Role.SUPERVISOR)
    _open(client, supervisor)
    _open(client, former)
    former.role = User.Role.ACCOUNT_MANAGER
    former.save()
    cache.clear()
    computed.clear()

    assert _warm(NOW + timedelta(days=dashboard_cache.WARM_DAYS, minutes=1)) == 0
    assert _warm(NOW + timedelta(hours=1)) == 1
    assert computed == [("wangwu", "7d")]


def test_the_warming_task_is_on_beats_schedule(settings):
    entries = [entry["task"] for entry in settings.BEAT_SCHEDULE_DEFAULTS.values()]
    assert "workspace.tasks.warm_dashboards" in entries
    schedule = next(
        entry["schedule"]
        for entry in settings.BEAT_SCHEDULE_DEFAULTS.values()
        if entry["task"] == "workspace.tasks.warm_dashboards"
    )
    assert schedule.total_seconds() == dashboard_cache.WARM_INTERVAL_SECONDS
