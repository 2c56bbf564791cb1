"""The work-order list: columns, flags, filters, order, keyset pages, scope and query counts."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.tickets.test_pages_support import (  # noqa: F401
    fast_password_hashing,
    listed_numbers,
    media_root,
    open_signed,
    text,
)
from tickets import services
from tickets.models import OPEN_STATUSES, Kind, Ticket, Urgency
from tickets.selectors import Cursor, format_duration

# A normal repair order: sign within 10 minutes (warning at 8), resolve within
# 240 (warning at 192).
LIST = reverse("tickets:list")


def opened_ago(open_ticket, manager, minutes: float, **fields) -> Ticket:
    """A signed order opened (and signed) `minutes` ago."""
    with time_machine.travel(timezone.now() - timedelta(minutes=minutes), tick=False):
        return open_signed(open_ticket, manager, **fields)


@pytest.fixture
def board(open_ticket, manager):
    """Orders in every state the list tells apart, by name."""
    overdue = opened_ago(open_ticket, manager, 300, title="超时的报修")
    near = opened_ago(open_ticket, manager, 200, title="即将超时的报修")
    fine = opened_ago(open_ticket, manager, 10, title="刚受理的报修")
    critical = opened_ago(open_ticket, manager, 10, title="特急报修", urgency=Urgency.CRITICAL)
    complaint = open_ticket(kind=Kind.COMPLAINT, category="billing", title="电费投诉")
    closed = opened_ago(open_ticket, manager, 20, title="已办结的报修")
    services.ticket_resolve(ticket=closed, by=manager, resolution="已复电")
    return {
        "overdue": overdue,
        "near": near,
        "fine": fine,
        "critical": critical,
        "complaint": complaint,
        "closed": closed,
    }


def numbers(board, *names) -> list[str]:
    return [board[name].number for name in names]


def test_the_list_shows_the_columns_and_flags(login, manager, board):
    response = login(manager).get(LIST)
    assert response.status_code == 200
    html = text(response)
    for header in (
        "工单编号",
        "标题",
        "客户",
        "类型",
        "紧急程度",
        "状态",
        "处理人",
        "剩余时间",
        "催办",
        "重复",
    ):
        assert f">{header}<" in html
    assert "杨丽" in html and "张三" in html
    assert "已超时 1小时" in html  # 300 minutes after opening, the 240-minute deadline passed an hour ago
    assert 'class="ticket-row table-danger" data-ticket="{}"'.format(board["overdue"].number) in html
    assert 'class="ticket-row table-warning" data-ticket="{}"'.format(board["near"].number) in html
    assert "剩余 3小时" in html  # the order opened ten minutes ago


def test_most_urgent_first_then_closed(login, manager, board):
    response = login(manager).get(LIST)
    assert listed_numbers(response) == numbers(
        board, "overdue", "near", "critical", "complaint", "fine", "closed"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"deadline": "overdue"}, {"overdue"}),
        ({"deadline": "near"}, {"near"}),
        ({"deadline": "attention"}, {"overdue", "near"}),
        ({"status": "dispatched"}, {"complaint"}),
        ({"status": "resolved"}, {"closed"}),
        ({"status": "open"}, {"overdue", "near", "fine", "critical", "complaint"}),
        ({"kind": "complaint"}, {"complaint"}),
        ({"urgency": "2"}, {"critical"}),
        ({"q": "特急"}, {"critical"}),
        ({"kind": "repair", "deadline": "overdue"}, {"overdue"}),
    ],
)
def test_filters_return_exactly_the_expected_orders(login, manager, board, params, expected):
    response = login(manager).get(LIST, params)
    assert set(listed_numbers(response)) == {board[name].number for name in expected}


def test_the_repeat_and_assignee_filters(login, manager, supervisor, open_ticket, colleague):
    first = open_ticket(kind=Kind.COMPLAINT, category="billing")
    again = open_ticket(kind=Kind.COMPLAINT, category="billing")
    theirs = open_ticket(assignee=colleague)
    client = login(supervisor)
    assert listed_numbers(client.get(LIST, {"repeat": "1"})) == [again.number]
    assert set(listed_numbers(client.get(LIST, {"repeat": "0"}))) == {first.number, theirs.number}
    assert listed_numbers(client.get(LIST, {"assignee": colleague.pk})) == [theirs.number]
    html = text(client.get(LIST, {"repeat": "1"}))
    assert "重复投诉</span>" in html


def test_the_unit_filter_takes_the_whole_subtree(login, supervisor, open_ticket, org_tree):
    here = open_ticket()
    client = login(supervisor)
    assert listed_numbers(client.get(LIST, {"org_unit": org_tree["county"].pk})) == [here.number]
    assert listed_numbers(client.get(LIST, {"org_unit": org_tree["sibling_station"].pk})) == []


def test_an_invalid_filter_value_is_ignored(login, manager, board):
    response = login(manager).get(LIST, {"urgency": "9", "status": "nonsense"})
    assert response.status_code == 200
    assert len(listed_numbers(response)) == len(board)


def test_the_outsider_sees_none_of_them(login, outsider, board):
    response = login(outsider).get(LIST)
    assert listed_numbers(response) == []
    assert "暂无工单" in text(response)


def test_an_empty_filter_result_says_how_to_get_back(login, manager, board):
    response = login(manager).get(LIST, {"q": "没有这样的工单"})
    assert listed_numbers(response) == []
    assert "没有符合条件的工单" in text(response) and "清除筛选条件" in text(response)


def test_the_list_needs_a_login(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "login" in response["Location"]


def test_htmx_gets_only_the_results(login, manager, board):
    response = login(manager).get(LIST, {"deadline": "overdue"}, HTTP_HX_REQUEST="true")
    html = text(response)
    assert html.lstrip().startswith('<div id="ticket-results">')
    assert "<html" not in html
    assert listed_numbers(response) == [board["overdue"].number]


# --- keyset pages ------------------------------------------------------------------------


def walk(client, params=None) -> tuple[list[str], list]:
    """Follow the next links to the end; returns the numbers and the responses."""
    params = dict(params or {})
    seen, responses = [], []
    while True:
        response = client.get(LIST, params)
        responses.append(response)
        seen += listed_numbers(response)
        page = response.context["page"]
        if not page.has_next:
            return seen, responses
        params["after"] = page.next_after
        params.pop("before", None)


def test_pages_follow_the_order_forward_and_back(login, manager, board, settings):
    settings.TICKET_PAGE_SIZE = 2
    client = login(manager)
    seen, responses = walk(client)
    assert len(responses) == 3
    assert seen == numbers(board, "overdue", "near", "critical", "complaint", "fine", "closed")
    last = responses[-1].context["page"]
    back = client.get(LIST, {"before": last.previous_before})
    assert listed_numbers(back) == seen[2:4]
    first = client.get(LIST, {"before": back.context["page"].previous_before})
    assert listed_numbers(first) == seen[:2]
    assert not first.context["page"].has_previous


def test_pages_keep_their_order_while_deadlines_pass(login, manager, board, settings):
    """Ranks are computed at the first page's moment, so nothing is skipped or repeated."""
    settings.TICKET_PAGE_SIZE = 2
    client = login(manager)
    first = client.get(LIST)
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        rest, _responses = walk(client, {"after": first.context["page"].next_after})
    seen = listed_numbers(first) + rest
    assert sorted(seen) == sorted(t.number for t in board.values())
    assert len(seen) == len(set(seen))


def test_filters_survive_paging(login, manager, board, settings):
    settings.TICKET_PAGE_SIZE = 1
    seen, _responses = walk(login(manager), {"status": "open", "kind": "repair"})
    assert seen == numbers(board, "overdue", "near", "critical", "fine")


@pytest.mark.parametrize("cursor", ["abc", "1.2.3", "1.2.x.4.5", "", "9" * 400])
def test_a_bad_cursor_means_the_first_page(login, manager, board, settings, cursor):
    settings.TICKET_PAGE_SIZE = 2
    response = login(manager).get(LIST, {"after": cursor})
    assert response.status_code == 200
    assert listed_numbers(response) == numbers(board, "overdue", "near")


def test_a_cursor_round_trips():
    now = timezone.now()
    cursor = Cursor(1, 2, now - timedelta(minutes=3), 42, now)
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0.5, "不足1分"), (40, "40分"), (135, "2小时15分"), (120, "2小时"), (27 * 60 + 5, "1天3小时")],
)
def test_durations_read_naturally(minutes, expected):
    assert format_duration(timedelta(minutes=minutes)) == expected


# --- query counts ----------------------------------------------------------------------

# Session, user, the user's unit, the header's unread count, the filter bar's
# choices (units, people) and the page of orders with customers, units and
# assignees joined in: one query per part of the list (overdue, near, other
# open, closed), each read only while the page is not yet full; a text search
# reads a sample of the scope and its matches first (tickets.search).
LIST_PAGE_QUERIES = 11


@pytest.mark.parametrize("who", ["manager", "supervisor"])
def test_the_list_page_runs_the_same_bounded_queries_for_3_and_30_orders(
    login, request, open_ticket, manager, who, django_assert_max_num_queries
):
    def add(count: int) -> None:
        for n in range(count):
            if n % 3 == 0:
                open_ticket(kind=Kind.COMPLAINT, category="billing")
            elif n % 3 == 1:
                opened_ago(open_ticket, manager, n * 15)
            else:
                closed = opened_ago(open_ticket, manager, n * 15)
                services.ticket_resolve(ticket=closed, by=manager, resolution="已处理")

    client = login(request.getfixturevalue(who))
    counts = []
    for count in (3, 30):
        add(count - Ticket.objects.count())
        with django_assert_max_num_queries(LIST_PAGE_QUERIES) as captured:
            response = client.get(LIST, {"q": "GD", "kind": "", "status": ""})
        assert len(listed_numbers(response)) == count
        counts.append(len(captured))
    print(f"list page as {who}, 3 and 30 orders: {counts} queries")
    assert counts[0] == counts[1]


def test_pages_cross_from_open_to_closed_orders_and_back(login, manager, board, open_ticket, settings):
    """Open orders are ranked and closed ones follow newest first, read by separate
    queries: the pages join them without a gap or a repeat, both ways."""
    for _ in range(3):
        services.ticket_resolve(ticket=open_signed(open_ticket, manager), by=manager, resolution="已处理")
    settings.TICKET_PAGE_SIZE = 3
    client = login(manager)
    seen, responses = walk(client)
    closed = list(
        Ticket.objects.exclude(status__in=OPEN_STATUSES).order_by("-pk").values_list("number", flat=True)
    )
    assert seen == numbers(board, "overdue", "near", "critical", "complaint", "fine") + closed
    back, page = [], responses[-1].context["page"]
    while page.has_previous:
        response = client.get(LIST, {"before": page.previous_before})
        back = listed_numbers(response) + back
        page = response.context["page"]
    assert back + listed_numbers(responses[-1]) == seen
