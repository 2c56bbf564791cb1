"""On the demo data (seed_demo, seed_activity): durations run from minutes to days, some
orders are rated twice (不满意, reopened, rated again), both by the customer and by
staff, and every figure of the prefecture supervisor's dashboard lists exactly its
orders in every period."""

from datetime import timedelta
from io import StringIO
from statistics import median

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import User
from tests.workspace.test_dashboard import _at
from tests.workspace.test_dashboard_totals import COUNTS, _links, _total
from tickets.models import ReturnVisit, Ticket


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo, seeded once for the module inside a transaction rolled back at its end; each
    test runs in a savepoint of its own within it, so neither sees what the other wrote."""
    with django_db_blocker.unblock(), transaction.atomic():
        cache.clear()
        call_command("seed_demo", customers=300, seed=7, stdout=StringIO())
        call_command("seed_activity", orders=150, seed=7, stdout=StringIO())
        if connection.vendor == "postgresql":
            # The walk below reads dozens of order lists: planned for the demo's rows, not for
            # what earlier tests of the process left in the planner's statistics.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        yield timezone.now() + timedelta(seconds=1)
        transaction.set_rollback(True)
    cache.clear()


@pytest.fixture
def demo(seeded, db, settings):
    # Every list of the walk on one page, so that its rows can be counted too.
    settings.TICKET_PAGE_SIZE = 1000
    yield seeded
    cache.clear()


def test_the_demo_has_durations_from_minutes_to_days_and_both_kinds_of_rating(demo):
    signed = [t.signed_at - t.created_at for t in Ticket.objects.filter(signed_at__isnull=False)]
    resolved = [t.resolved_at - t.created_at for t in Ticket.objects.filter(resolved_at__isnull=False)]
    assert timedelta(minutes=3) < median(signed) < timedelta(hours=1)
    assert timedelta(hours=1) < median(resolved) < timedelta(days=3)
    assert max(resolved) > timedelta(days=1)
    visits = ReturnVisit.objects.filter(visited_at__isnull=False)
    assert visits.filter(method=ReturnVisit.Method.SELF_SERVICE).exists()
    assert visits.exclude(method=ReturnVisit.Method.SELF_SERVICE).exists()
    twice = visits.values("ticket").annotate(n=Count("id")).filter(n__gt=1)
    assert twice.exists()
    # Steps keep their order: signed after acceptance, the visit after the resolution.
    for ticket in Ticket.objects.filter(resolved_at__isnull=False):
        assert ticket.created_at < ticket.signed_at < ticket.resolved_at <= demo
    for visit in visits.select_related("ticket"):
        assert visit.visited_at <= demo


def test_every_figure_of_the_demo_lists_exactly_its_orders_in_every_period(demo, client):
    client.force_login(User.objects.get(username="supervisor"))
    for period in ("today", "7d", "30d"):
        cache.clear()
        with _at(demo):
            response = client.get("/dashboard/", {"period": period})
        board = response.context["board"]
        links = _links(response)
        assert len(links) > 20
        for link, count in links:
            assert _total(client, link, demo) == (count, count), (period, link, count)
        for figure in board.figures:
            if figure.key in COUNTS:
                assert figure.value == figure.count, (period, figure.key)
        total = board.charts["satisfaction"]["total"]
        for chart in ("segment", "unit"):
            assert sum(row["n"] for row in board.charts["satisfaction"][chart]["rows"]) == total["n"]
        if period != "today":
            assert total["n"] > 0 and total["self"] > 0 and total["staff"] > 0
            assert board.figure("sign_p90").unit == "分钟"
