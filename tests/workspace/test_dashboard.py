"""The supervisor's dashboard: each figure against a hand-counted set of orders.

`build_scenario(now)` makes the orders through tickets.services at moments
relative to `now` (time_machine); the tests look at it from now = 2026-11-22
12:00 Asia/Shanghai with the period "last 7 days" (11-16 00:00 to 11-23 00:00).

Repair orders: sign within 10 min (warn at 8), resolve within 4 h (warn at
3 h 12 min); inquiries 30 min / 24 h; complaints 2 h / 3 days.

| order | unit | created | signed | resolved | now |
|---|---|---|---|---|---|
| A repair | 雷山 | -1 h | — | — | unsigned, overdue (sign due -50 min) |
| B repair | 雷山 | -3 h 30 | +6 min | — | near (warn -18 min, due +30 min), urged once |
| C repair | 丹江 | -26 h | +10 min | +3 h (in time) | visited 满意, urban resident |
| D repair | 丹江 | -50 h | +20 min | +6 h (late) | visited 基本满意, rural resident |
| E inquiry | 雷山 | -75 h | +30 min | +3 h (in time) | visited 不满意 → reopened, overdue |
| G repair | 雷山 | -30 h | +5 min | +3 h (in time) | return visit due -3 h, not made |
| H1 complaint | 雷山 | -27 h | +30 min | — | open |
| H2 complaint | 雷山 | -2 h 30 | +10 min | — | open, repeat of H1 |
| F repair | 凯里 (other county) | -1 h | — | — | unsigned, overdue |
"""

from datetime import datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from accounts.models import User
from customers.models import Customer
from groups.models import GroupKind
from tests.factories import ContactFactory, CustomerFactory, UserFactory
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Category, Kind, ReturnVisit, SlaPolicy
from workspace.dashboard.figures import QUERY_COUNT, compute_dashboard
from workspace.dashboard.periods import period_from

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def sla_policies(db):
    seed_default_policies(SlaPolicy)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def _at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def _order(now, offset, **fields):
    with _at(now + offset):
        ticket, _created = services.ticket_create(title="工单", description="客户诉求", **fields)
    return ticket


def _sign(now, ticket, offset, by):
    with _at(now + offset):
        return services.ticket_sign(ticket=ticket, by=by)


def _resolve(now, ticket, offset, by):
    with _at(now + offset):
        return services.ticket_resolve(ticket=ticket, by=by, resolution="已处理")


def _visit(now, ticket, offset, by, result):
    with _at(now + offset):
        return services.ticket_record_return_visit(ticket=ticket, by=by, method="phone", result=result)


def build_scenario(now, org_tree, manager, supervisor, outsider) -> dict:
    """The orders of the table above, at moments relative to `now`."""
    h = timedelta(hours=1)
    m = timedelta(minutes=1)
    station, sibling = org_tree["station"], org_tree["sibling_station"]
    sun = UserFactory(username="sunqi", real_name="孙七", org_unit=sibling)
    cust_a = CustomerFactory(station=station, manager=manager, name="杨丽")
    cust_c = CustomerFactory(station=sibling, manager=sun, name="城市居民")
    cust_d = CustomerFactory(station=sibling, manager=sun, name="农村居民", segment=Customer.Segment.RURAL)
    cust_e = CustomerFactory(
        station=station,
        manager=manager,
        name="农村商户",
        segment=Customer.Segment.RURAL,
        kind=Customer.Kind.COMMERCIAL,
    )
    cust_f = CustomerFactory(station=org_tree["other_station"], manager=outsider, name="凯里客户")
    repair = {"kind": Kind.REPAIR}

    a = _order(now, -h, customer=cust_a, opened_by=manager, assignee=manager, **repair)
    b = _order(now, -3.5 * h, customer=cust_a, opened_by=manager, assignee=manager, **repair)
    _sign(now, b, -3.5 * h + 6 * m, manager)
    with _at(now - 10 * m):
        services.ticket_urge(ticket=b, by=supervisor, note="请抓紧")

    c = _order(now, -26 * h, customer=cust_c, opened_by=sun, assignee=sun, **repair)
    _sign(now, c, -26 * h + 10 * m, sun)
    _resolve(now, c, -23 * h, sun)
    _visit(now, c, -2 * h, supervisor, ReturnVisit.Result.SATISFIED)

    d = _order(now, -50 * h, customer=cust_d, opened_by=sun, assignee=sun, **repair)
    _sign(now, d, -50 * h + 20 * m, sun)
    _resolve(now, d, -44 * h, sun)
    _visit(now, d, -27 * h, supervisor, ReturnVisit.Result.BASICALLY)

    e = _order(now, -75 * h, customer=cust_e, opened_by=manager, assignee=manager, kind=Kind.INQUIRY)
    _sign(now, e, -75 * h + 30 * m, manager)
    _resolve(now, e, -72 * h, manager)
    _visit(now, e, -50 * h, supervisor, ReturnVisit.Result.DISSATISFIED)

    g = _order(now, -30 * h, customer=cust_a, opened_by=manager, assignee=manager, **repair)
    _sign(now, g, -30 * h + 5 * m, manager)
    _resolve(now, g, -27 * h, manager)

    complaint = {"kind": Kind.COMPLAINT, "category": Category.BILLING}
    h1 = _order(now, -27 * h, customer=cust_a, opened_by=manager, assignee=manager, **complaint)
    _sign(now, h1, -27 * h + 30 * m, manager)
    h2 = _order(now, -2.5 * h, customer=cust_a, opened_by=manager, assignee=manager, **complaint)
    _sign(now, h2, -2.5 * h + 10 * m, manager)

    f = _order(now, -h, customer=cust_f, opened_by=outsider, assignee=outsider, **repair)
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g, "h1": h1, "h2": h2, "sun": sun}


@pytest.fixture
def scenario(org_tree, manager, supervisor, outsider):
    return build_scenario(NOW, org_tree, manager, supervisor, outsider)


def _board(user, params=None):
    with _at(NOW + timedelta(seconds=1)):
        period, error = period_from(params or {"period": "7d"})
        assert error == ""
        return compute_dashboard(user=user, period=period)


def _values(board) -> dict:
    return {figure.key: figure.value for figure in board.figures}


def test_each_figure_matches_the_hand_count(scenario, supervisor):
    board = _board(supervisor)
    assert _values(board) == {
        "new": 8,  # A B C D E G H1 H2; F is in another county
        "open": 5,  # A B E H1 H2
        "overdue": 2,  # A (signing), E (reopened)
        "near": 1,  # B
        "unsigned": 1,  # A
        "sla": 66.7,  # resolved C D G, in time C G
        "sign_mean": 16,  # (6+10+20+30+5+30+10)/7 min = 15.9 min, shown in minutes
        "sign_p90": 30,  # 30 min
        "resolve_mean": 4.0,  # (3+6+3)/3 h, from two hours on shown in hours
        "resolve_p90": 5.4,  # 3 + 0.8 × (6 − 3)
        "urged": 1,  # B
        "repeat": 1,  # H2
        "coverage": 75.0,  # visits due C D E G, made C D E
        "satisfaction": 66.7,  # C 满意, D 基本满意, E 不满意
    }
    assert board.figure("unsigned").parts[1][1] == 1  # dispatched
    assert (board.figure("sign_mean").unit, board.figure("resolve_mean").unit) == ("分钟", "小时")
    assert board.figure("overdue").link == "/tickets/?deadline=overdue"
    period = "created_after=2026-11-16&created_before=2026-11-22"
    assert board.figure("repeat").link == f"/tickets/?repeat=1&{period}"
    assert board.figure("coverage").link == "/tickets/?visit_due_after=2026-11-16&visit_due_before=2026-11-22"
    assert board.figure("satisfaction").link == "/tickets/?visited_after=2026-11-16&visited_before=2026-11-22"
    assert [n for _label, n, _link in board.figure("coverage").parts] == [3, 1]  # C D E made, G not
    assert [n for _label, n, _link in board.figure("satisfaction").parts] == [
        1,
        1,
        1,
    ]  # C 满意, D 基本, E 不满意
    assert [n for _label, n, _link in board.figure("satisfaction").channels] == [0, 3]  # all by staff


def test_the_charts_and_tables_match_the_hand_count(scenario, supervisor, manager):
    board = _board(supervisor)
    per_day = board.charts["per_day"]
    assert per_day["labels"][0] == "11-16" and per_day["labels"][-1] == "11-22"
    repairs = next(s for s in per_day["datasets"] if s["kind"] == Kind.REPAIR)["data"]
    # C on 11-21 10:00, D on 11-20 10:00, G on 11-21 06:00, A and B on 11-22.
    assert repairs == [0, 0, 0, 0, 1, 2, 2]
    assert board.charts["overdue_by_unit"]["labels"] == ["雷山供电所"]
    assert board.charts["overdue_by_unit"]["data"] == [2]
    segment = board.charts["satisfaction"]["segment"]
    assert dict(zip(segment["labels"], segment["data"], strict=True)) == {
        "城市居民": 100.0,
        "农村居民": 100.0,
        "农村非居民": 0.0,
    }
    assert segment["labels"][segment["weakest"]] == "农村非居民"
    unit = board.charts["satisfaction"]["unit"]
    assert unit["labels"][unit["weakest"]] == "雷山供电所"
    # Oldest first: E's deadline passed at -50 h + 24 h, A's at -50 min.
    assert [row["number"] for row in board.overdue_rows] == [scenario["e"].number, scenario["a"].number]
    assert board.overdue_total == 2
    mine = next(row for row in board.workload if row["id"] == manager.pk)
    assert (mine["open"], mine["overdue"], mine["near"], mine["visits_due"]) == (5, 2, 1, 1)
    assert [row["ticket__number"] for row in board.urges] == [scenario["b"].number]


def test_a_station_supervisor_sees_only_their_station(scenario, org_tree):
    station_supervisor = UserFactory(org_unit=org_tree["sibling_station"], role=User.Role.SUPERVISOR)
    values = _values(_board(station_supervisor))
    assert (values["new"], values["open"], values["overdue"], values["sla"]) == (2, 0, 0, 50.0)


def test_an_administrator_sees_every_unit(scenario, admin_user):
    values = _values(_board(admin_user))
    assert (values["new"], values["overdue"], values["unsigned"]) == (9, 3, 2)


def test_today_and_custom_periods(scenario, supervisor):
    assert _values(_board(supervisor, {"period": "today"}))["new"] == 3  # A B H2
    custom = {"period": "custom", "start": "2026-11-19", "end": "2026-11-20"}
    assert _values(_board(supervisor, custom))["new"] == 2  # E D


def test_a_bad_custom_period_falls_back_to_seven_days():
    period, error = period_from({"period": "custom", "start": "2026-11-20", "end": "2026-11-01"})
    assert period.key == "7d" and error


def _count_queries(user) -> int:
    cache.clear()
    # A fresh user object, as each request has: the scope's unit ids are looked up once per object.
    user = User.objects.select_related("org_unit").get(pk=user.pk)
    with CaptureQueriesContext(connection) as queries:
        _board(user)
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_data(scenario, supervisor, manager, org_tree):
    small = _count_queries(supervisor)
    for n in range(12):
        customer = CustomerFactory(station=org_tree["station"], manager=manager)
        ticket = _order(
            NOW,
            -timedelta(hours=n + 1),
            customer=customer,
            opened_by=manager,
            assignee=manager,
            kind=Kind.REPAIR,
        )
        if n % 2:
            _sign(NOW, ticket, -timedelta(hours=n + 1) + timedelta(minutes=3), manager)
            with _at(NOW - timedelta(minutes=n)):
                services.ticket_urge(ticket=ticket, by=supervisor)
    UserFactory.create_batch(3, org_unit=org_tree["sibling_station"])
    assert _count_queries(supervisor) == small
    # The figures, and one lookup of the scope's unit ids (the cache was emptied).
    assert small == QUERY_COUNT + 1


def test_the_page_shows_the_figures_and_is_cached(scenario, supervisor, login):
    client = login(supervisor)
    with _at(NOW + timedelta(seconds=1)):
        response = client.get("/dashboard/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="fig-overdue"' in body and 'href="/tickets/?deadline=overdue"' in body
    assert 'id="dashboard-data"' in body
    with _at(NOW + timedelta(seconds=30)), CaptureQueriesContext(connection) as queries:
        again = client.get("/dashboard/")
    assert again.context["board"].computed_at == response.context["board"].computed_at
    assert not any("tickets_ticket" in q["sql"] for q in queries.captured_queries)


def test_an_account_manager_is_refused(manager, login):
    assert login(manager).get("/dashboard/").status_code == 403
    assert login(manager).get("/dashboard/export.xlsx").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get("/dashboard/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_export_opens_and_holds_the_overdue_figure(scenario, supervisor, login):
    with _at(NOW + timedelta(seconds=1)):
        response = login(supervisor).get("/dashboard/export.xlsx?period=7d")
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    figures = {row[0]: row[1] for row in book["指标"].iter_rows(values_only=True) if row and row[0]}
    assert figures["已超时"] == 2
    assert figures["新增工单"] == 8
    numbers = [row[0] for row in book["超时工单"].iter_rows(min_row=2, values_only=True)]
    assert numbers == [scenario["e"].number, scenario["a"].number]


def test_supervisors_landing_on_home_go_to_the_dashboard(supervisor, login):
    response = login(supervisor).get("/")
    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_the_groups_chart_counts_in_time_answers_and_zombies_per_station(
    org_tree, manager, supervisor, outsider
):
    from groups.services.groups import group_archive, group_create
    from groups.services.members import membership_add_contact
    from groups.services.messages import message_post, reply_post

    sun = UserFactory(username="sunqi", real_name="孙七", org_unit=org_tree["sibling_station"])
    with _at(NOW - timedelta(days=40)):
        busy = group_create(by=manager, name="雷山VIP群", kind=GroupKind.VIP, rules="文明发言。")
        group_create(by=sun, name="丹江VIP群", kind=GroupKind.VIP, rules="文明发言。")
        gone = group_create(by=sun, name="已解散群", kind=GroupKind.VIP, rules="文明发言。")
        group_create(by=outsider, name="凯里VIP群", kind=GroupKind.VIP, rules="文明发言。")
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    contact = ContactFactory(customer=customer, mobile="13677770001")
    membership_add_contact(group=busy, contact=contact, by=manager)

    def ask(at):
        message, _created = message_post(
            group=busy, contact=contact, text="请问何时来电？", sent_at=at, is_inquiry=True
        )
        return message

    with _at(NOW - timedelta(days=2)):
        reply_post(group=busy, by=manager, text="已安排。", inquiry=ask(NOW - timedelta(days=2)))
    late = ask(NOW - timedelta(days=1, hours=3))
    with _at(NOW - timedelta(days=1)):
        reply_post(group=busy, by=manager, text="抱歉久等。", inquiry=late)
    ask(NOW - timedelta(days=45))  # before the health window: not counted
    ask(NOW - timedelta(hours=2))  # unanswered past its deadline: a zombie
    ask(NOW - timedelta(minutes=5))  # still within its deadline: undecided
    group_archive(group=gone, by=sun)

    chart = _board(supervisor).charts["groups"]
    assert chart["labels"] == ["雷山供电所", "丹江供电所"]
    # 雷山: 3 decided (two answered, one late, one overdue), 1 in time; zombie by
    # the overdue inquiry. 丹江: no inquiries, owner silent 40 days.
    assert chart["rate"] == [33.3, None]
    assert chart["zombies"] == [1, 1]


# --- Stale while refreshing -------------------------------------------------------------


@pytest.fixture
def refreshes(monkeypatch) -> list:
    """Record the refreshes asked of a worker instead of publishing them."""
    import core.broker

    asked: list = []
    monkeypatch.setattr(core.broker, "publish_once", lambda task, *args: asked.append((task.name, args)))
    return asked


def _board_at(user, offset):
    from workspace.dashboard.cache import dashboard_for

    with _at(NOW + offset):
        period, _error = period_from({"period": "7d"})
        return dashboard_for(user=user, period=period)


def test_old_figures_are_shown_while_one_refresh_is_asked_of_a_worker(scenario, supervisor, refreshes):
    first = _board_at(supervisor, timedelta(seconds=1))
    assert _board_at(supervisor, timedelta(seconds=50)).computed_at == first.computed_at
    assert refreshes == []  # still fresh

    with CaptureQueriesContext(connection) as queries:
        stale = _board_at(supervisor, timedelta(seconds=90))
    assert stale.computed_at == first.computed_at
    assert not any("tickets_ticket" in q["sql"] for q in queries.captured_queries)
    assert refreshes == [("workspace.tasks.refresh_dashboard", (supervisor.pk, "period=7d", "zh-hans"))]
    _board_at(supervisor, timedelta(seconds=100))
    assert len(refreshes) == 1  # one refresh at a time per dashboard

    from workspace.tasks import refresh_dashboard

    with _at(NOW + timedelta(seconds=105)):
        refresh_dashboard(*refreshes[0][1])
    fresh = _board_at(supervisor, timedelta(seconds=110))
    assert fresh.computed_at == NOW + timedelta(seconds=105)
    assert _values(fresh) == _values(first)


def test_a_refresh_the_broker_cannot_take_is_asked_again_on_the_next_view(
    scenario, supervisor, monkeypatch, caplog
):
    import core.broker

    def broker_down(task, *args):
        raise ConnectionRefusedError

    monkeypatch.setattr(core.broker, "publish_once", broker_down)
    first = _board_at(supervisor, timedelta(seconds=1))
    assert _board_at(supervisor, timedelta(seconds=90)).computed_at == first.computed_at
    assert "Could not ask for a dashboard refresh (ConnectionRefusedError)" in caplog.text

    asked: list = []
    monkeypatch.setattr(core.broker, "publish_once", lambda task, *args: asked.append(args))
    _board_at(supervisor, timedelta(seconds=95))
    assert len(asked) == 1


def test_a_refresh_for_someone_no_longer_a_supervisor_computes_nothing(scenario, supervisor):
    from workspace.tasks import refresh_dashboard

    supervisor.role = User.Role.ACCOUNT_MANAGER
    supervisor.save()
    with _at(NOW), CaptureQueriesContext(connection) as queries:
        refresh_dashboard(supervisor.pk, "period=7d", "zh-hans")
    assert not any("tickets_ticket" in q["sql"] for q in queries.captured_queries)
