"""The order's page: fields, deadlines, timeline, transfers, visits, attachments, related
orders, and exactly the steps the user may take now."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory
from tests.tickets.test_pages_support import (  # noqa: F401
    fast_password_hashing,
    media_root,
    open_signed,
    png_bytes,
    shown_actions,
    text,
)
from tickets import permissions, services
from tickets.models import Kind, TicketEvent
from tickets.views import STEP_BY_ACTION

Action = TicketEvent.Action


def detail(ticket) -> str:
    return reverse("tickets:detail", args=[ticket.number])


def expected_actions(user, ticket) -> set[str]:
    ticket.refresh_from_db()
    return {STEP_BY_ACTION[action].slug for action in permissions.allowed_actions(user, ticket)}


def test_the_page_shows_the_order(login, manager, open_ticket):
    ticket = open_ticket(
        kind=Kind.COMPLAINT,
        category="attitude",
        title="营业厅态度差",
        why="排队时间长",
        what="工作人员不耐烦",
        who="营业厅值班人员",
        when="11月20日上午",
        where="雷山营业厅",
        how="希望道歉并改进",
    )
    response = login(manager).get(detail(ticket))
    assert response.status_code == 200
    html = text(response)
    for piece in (
        ticket.number,
        "营业厅态度差",
        "杨丽",
        "投诉",
        "服务态度",
        "排队时间长",
        "希望道歉并改进",
        "签收时限",
        "办结时限",
        "剩余",
        "张三",
        "受理",
        "派单",
    ):
        assert piece in html, piece
    # The customer's own manager sees the phone in full.
    assert "13885550001" in html


def test_others_see_the_customers_phone_masked(login, supervisor, open_ticket):
    html = text(login(supervisor).get(detail(open_ticket())))
    assert "13885550001" not in html
    assert "138****0001" in html


def test_the_timeline_is_newest_first_with_its_actors(login, manager, supervisor, open_ticket):
    ticket = open_ticket()
    services.ticket_urge(ticket=ticket, by=supervisor, note="客户第二次来电")
    services.ticket_sign(ticket=ticket, by=manager)
    response = login(manager).get(detail(ticket))
    timeline = [event.action for event in response.context["ticket"].timeline]
    assert timeline == [Action.SIGNED, Action.URGED, Action.DISPATCHED, Action.CREATED]
    html = text(response)
    assert html.index('data-event="signed"') < html.index('data-event="urged"')
    assert "客户第二次来电" in html and "王五" in html


def test_transfers_visits_attachments_and_related_orders_are_shown(
    login, manager, colleague, supervisor, open_ticket, org_tree
):
    ticket = open_ticket()
    other = open_ticket(title="上次的停电报修")
    services.ticket_link(ticket=ticket, other=other, by=manager)
    services.attachment_add(ticket=ticket, by=manager, upload=SimpleUploadedFile("现场.png", png_bytes()))
    receiver = UserFactory(org_unit=org_tree["sibling_station"], real_name="丹江经理")
    services.ticket_transfer(
        ticket=ticket,
        by=manager,
        to_unit=org_tree["sibling_station"],
        to_user=receiver,
        reason="属丹江供电所辖区",
        tracker=colleague,
    )
    services.ticket_sign(ticket=ticket, by=receiver)
    services.ticket_resolve(ticket=ticket, by=receiver, resolution="已更换熔丝")
    services.ticket_record_return_visit(
        ticket=ticket, by=supervisor, method="phone", result="satisfied", note="客户满意"
    )
    html = text(login(supervisor).get(detail(ticket)))
    for piece in ("丹江供电所", "丹江经理", "属丹江供电所辖区", "李四", "满意", "客户满意", "已更换熔丝"):
        assert piece in html, piece
    assert "现场.png" in html
    assert reverse("tickets:attachment", args=[ticket.number, ticket.attachments.get().pk]) in html
    assert other.number in html and "上次的停电报修" in html


def test_empty_sections_say_what_to_do(login, manager, open_ticket):
    html = text(login(manager).get(detail(open_ticket())))
    assert "未转办" in html
    assert "暂无附件" in html
    assert "暂无关联工单" in html
    assert "办结后系统自动安排回访" in html


def test_an_overdue_order_is_flagged(login, manager, open_ticket):
    with time_machine.travel(timezone.now() - timedelta(hours=5), tick=False):
        ticket = open_signed(open_ticket, manager)
    html = text(login(manager).get(detail(ticket)))
    assert "已超时 1小时" in html
    assert "alert-danger" in html


# --- which steps are offered ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["manager", "colleague", "supervisor", "admin_user"])
def test_the_steps_offered_match_allowed_actions_through_the_lifecycle(
    login, request, manager, supervisor, open_ticket, who
):
    user = request.getfixturevalue(who)
    client = login(user)
    ticket = open_ticket(assignee=None)

    def check():
        offered = shown_actions(client.get(detail(ticket)))
        assert offered == expected_actions(user, ticket), ticket.status

    check()  # new
    services.ticket_dispatch(ticket=ticket, by=supervisor, org_unit=ticket.org_unit, assignee=manager)
    check()  # dispatched
    services.ticket_sign(ticket=ticket, by=manager)
    check()  # signed
    services.ticket_start(ticket=ticket, by=manager)
    check()  # in progress
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    check()  # resolved
    services.ticket_record_return_visit(ticket=ticket, by=supervisor, method="phone", result="satisfied")
    check()  # visited
    services.ticket_archive(ticket=ticket, by=supervisor)
    check()  # archived


def test_the_assignee_is_offered_exactly_sign_send_back_and_transfer(login, manager, open_ticket):
    offered = shown_actions(login(manager).get(detail(open_ticket())))
    assert offered == {"sign", "send-back", "transfer"}


def test_a_colleague_is_told_there_is_nothing_to_do(login, colleague, open_ticket):
    response = login(colleague).get(detail(open_ticket()))
    assert shown_actions(response) == set()
    assert "您现在没有可执行的操作" in text(response)


# --- scope ----------------------------------------------------------------------------------


def test_the_outsider_gets_404(login, outsider, open_ticket):
    assert login(outsider).get(detail(open_ticket())).status_code == 404


def test_an_unknown_number_is_404(login, manager):
    assert login(manager).get(reverse("tickets:detail", args=["GD000000000000"])).status_code == 404


# --- query counts ----------------------------------------------------------------------------

# Session, user, the user's unit, unread count; the order with its customer,
# units and people; its timeline, transfers, return visits, attachments and
# related orders; its resolutions and its change history (one query each); the
# tracker check of the permission rules; the choice lists
# of the step forms (units, people); the reminders the outbox holds for it.
DETAIL_PAGE_QUERIES = 17


def grow(ticket, *, events: int, manager, colleague, supervisor, open_ticket, org_tree) -> None:
    """Give the order transfers, links and attachments, then urges up to `events` timeline entries."""
    for n in range(3):
        services.ticket_transfer(
            ticket=ticket,
            by=manager,
            to_unit=org_tree["station"],
            to_user=manager,
            reason=f"第{n + 1}次转办",
            tracker=colleague,
        )
        services.ticket_sign(ticket=ticket, by=manager)
        services.ticket_link(ticket=ticket, other=open_ticket(), by=manager)
        services.attachment_add(ticket=ticket, by=manager, upload=SimpleUploadedFile(f"{n}.png", png_bytes()))
    while ticket.events.count() < events:
        services.ticket_urge(ticket=ticket, by=supervisor, note="请尽快处理")


@pytest.mark.parametrize("who", ["manager", "supervisor"])
def test_the_detail_page_runs_the_same_bounded_queries_for_3_and_30_events(
    login, request, manager, supervisor, colleague, open_ticket, org_tree, who, django_assert_max_num_queries
):
    small = services.ticket_sign(ticket=open_ticket(), by=manager)
    large = services.ticket_sign(ticket=open_ticket(), by=manager)
    grow(
        large,
        events=30,
        manager=manager,
        colleague=colleague,
        supervisor=supervisor,
        open_ticket=open_ticket,
        org_tree=org_tree,
    )
    assert (small.events.count(), large.events.count()) == (3, 30)
    client = login(request.getfixturevalue(who))
    counts = []
    for ticket in (small, large):
        with django_assert_max_num_queries(DETAIL_PAGE_QUERIES) as captured:
            response = client.get(detail(ticket))
        assert response.status_code == 200
        assert len(response.context["ticket"].timeline) == ticket.events.count()
        counts.append(len(captured))
    print(f"detail page as {who}, 3 and 30 events: {counts} queries")
    assert counts[0] == counts[1]
