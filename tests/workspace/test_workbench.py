"""The account manager's workbench at `/`."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from groups.models import GroupKind, GroupMessage, ServiceGroup
from tests.factories import CustomerFactory, NotificationFactory
from tickets import services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy, Status


@pytest.fixture(autouse=True)
def sla_policies(db):
    seed_default_policies(SlaPolicy)
    cache.clear()


@pytest.fixture
def customer(org_tree, manager):
    return CustomerFactory(station=org_tree["station"], manager=manager, name="杨丽")


def _order(customer, manager, ago: timedelta, **fields):
    with time_machine.travel(timezone.now() - ago, tick=False):
        ticket, _created = services.ticket_create(
            customer=customer,
            opened_by=manager,
            assignee=manager,
            kind=fields.pop("kind", Kind.REPAIR),
            title=fields.pop("title", "家中停电"),
            description="客户反映家中无电。",
            **fields,
        )
    return ticket


def test_it_lists_my_open_orders_overdue_first_then_near(login, manager, customer):
    # A complaint (sign within 2 h) accepted 100 min ago is past its warning point;
    # a repair (sign within 10 min) accepted 20 min ago is overdue.
    near = _order(customer, manager, timedelta(minutes=100), kind=Kind.COMPLAINT, title="即将超时")
    overdue = _order(customer, manager, timedelta(minutes=20), title="已超时")
    fresh = _order(customer, manager, timedelta(minutes=1), kind=Kind.COMPLAINT, title="刚受理")
    response = login(manager).get("/")
    assert response.status_code == 200
    orders = response.context["orders"]
    assert [t.number for t in orders.items] == [overdue.number, near.number, fresh.number]
    assert orders.counts == {"total": 3, "overdue": 1, "near": 1, "unsigned": 3}
    body = response.content.decode()
    assert 'hx-trigger="every 60s"' in body
    assert f'action="/workbench/sign/{near.number}/"' in body


def test_one_click_sign_refreshes_the_section(login, manager, customer):
    ticket = _order(customer, manager, timedelta(minutes=100), kind=Kind.COMPLAINT)
    client = login(manager)
    response = client.post(f"/workbench/sign/{ticket.number}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context["orders"].counts["unsigned"] == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.SIGNED and ticket.assignee == manager
    again = client.post(f"/workbench/sign/{ticket.number}/", HTTP_HX_REQUEST="true")
    assert again.context["sign_error"]


def test_signing_without_htmx_goes_back_to_the_workbench(login, manager, customer):
    ticket = _order(customer, manager, timedelta(minutes=1))
    response = login(manager).post(f"/workbench/sign/{ticket.number}/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_an_outsider_cannot_sign_my_order(login, manager, outsider, customer):
    ticket = _order(customer, manager, timedelta(minutes=1))
    assert login(outsider).post(f"/workbench/sign/{ticket.number}/").status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == Status.DISPATCHED


def test_it_shows_return_visits_inquiries_zombies_stale_archives_and_messages(
    login, manager, customer, org_tree
):
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        ticket = _order(customer, manager, timedelta(0))
        services.ticket_sign(ticket=ticket, by=manager)
        services.ticket_resolve(ticket=ticket, by=manager, resolution="已恢复供电")
    CustomerFactory(station=org_tree["station"], manager=manager, verified_at=None)
    group = ServiceGroup.objects.create(
        name="永乐VIP客户群", kind=GroupKind.VIP, owner=manager, org_unit=org_tree["station"], rules="群规"
    )
    inquiry = GroupMessage.objects.create(
        group=group,
        sender_kind=GroupMessage.SenderKind.CUSTOMER,
        sender_name="杨丽",
        text="什么时候来电？",
        is_inquiry=True,
        sent_at=timezone.now() - timedelta(hours=2),
        response_due_at=timezone.now() - timedelta(hours=1),
    )
    NotificationFactory(recipient=manager, subject="新工单待签收")
    response = login(manager).get("/")
    context = response.context
    assert context["visits"].counts == {"total": 1, "overdue": 1}
    assert context["stale_customers"] == 1
    assert f"/customers/?stale=1&amp;manager={manager.pk}" in response.content.decode()
    assert context["inbox"].counts["total"] >= 1
    assert context["inquiries"].counts == {"total": 1, "overdue": 1}
    assert [g.pk for g in context["zombies"].items] == [group.pk]
    groups = response.content.decode().split('id="wb-groups"')[1].split("</section>")[0]
    detail = reverse("groups:detail", args=[group.pk])
    assert f'href="{detail}#message-{inquiry.pk}"' in groups
    assert f'href="{detail}">{group.name}</a>' in groups
    assert "回复时限" in groups and "· 已超时" in groups


@pytest.mark.parametrize("section", ["orders", "visits", "groups", "customers", "notifications", "outages"])
def test_each_section_refreshes_on_its_own(login, manager, section):
    response = login(manager).get(f"/workbench/{section}/")
    assert response.status_code == 200
    assert f'id="wb-{section}"' in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_orders(login, manager, customer):
    client = login(manager)
    for _n in range(3):
        _order(customer, manager, timedelta(minutes=5))
    few = _queries(client)
    for _n in range(27):
        _order(customer, manager, timedelta(minutes=5))
    assert _queries(client) == few


@pytest.mark.parametrize(
    ("language", "sign", "open_"), [("zh-hans", "签收", "打开"), ("en", "Sign for", "Open")]
)
def test_each_order_row_carries_its_own_links_and_labels(language, sign, open_, login, manager, customer):
    orders = [_order(customer, manager, timedelta(minutes=minutes)) for minutes in (1, 2, 3)]
    services.ticket_sign(ticket=orders[0], by=manager)
    client = login(manager)
    client.cookies["django_language"] = language
    body = client.get("/").content.decode()
    rows = (
        body.split('class="list-group list-group-flush wb-order-list">')[1]
        .split("</ul>")[0]
        .split("<li ")[1:]
    )
    assert len(rows) == 3
    for ticket in orders:
        row = next(row for row in rows if f'data-ticket="{ticket.number}"' in row)
        detail = reverse("tickets:detail", args=[ticket.number])
        assert row.count(f'href="{detail}"') == 2 and f">{open_}</a>" in row
        sign_url = reverse("workbench_sign", args=[ticket.number])
        signable = ticket != orders[0]
        assert (f'action="{sign_url}" hx-post="{sign_url}"' in row) == signable
        assert (f">{sign}</button>" in row) == signable


def test_the_zombie_section_costs_the_same_queries_with_or_without_a_zombie(manager, org_tree):
    from groups.selectors import with_health, zombie_q
    from workspace.workbench import my_groups

    now = timezone.now()
    lively = ServiceGroup.objects.create(
        name="活跃群", kind=GroupKind.VIP, owner=manager, org_unit=org_tree["station"], rules="群规"
    )
    GroupMessage.objects.create(
        group=lively,
        sender_kind=GroupMessage.SenderKind.STAFF,
        sender_user=manager,
        sender_name=manager.real_name,
        text="各位好。",
        sent_at=now - timedelta(hours=1),
    )
    with CaptureQueriesContext(connection) as calm:
        _inquiries, zombies = my_groups(user=manager, now=now)
    assert zombies.items == [] and zombies.counts == {"total": 0}
    # A public group's silence is not its owner's fault; an overdue inquiry is anyone's.
    ServiceGroup.objects.create(
        name="公共服务群", kind=GroupKind.PUBLIC, owner=manager, org_unit=org_tree["station"], rules="群规"
    )
    silent = ServiceGroup.objects.create(
        name="沉默群", kind=GroupKind.VIP, owner=manager, org_unit=org_tree["station"], rules="群规"
    )
    ServiceGroup.objects.filter(pk=silent.pk).update(created_at=now - timedelta(days=40))
    with CaptureQueriesContext(connection) as stormy:
        _inquiries, zombies = my_groups(user=manager, now=now)
    expected = with_health(ServiceGroup.objects.active().filter(owner=manager), now).filter(zombie_q(now))
    assert [g.pk for g in zombies.items] == [g.pk for g in expected.order_by("name", "id")] == [silent.pk]
    assert zombies.items[0].zombie_reasons
    assert len(stormy.captured_queries) == len(calm.captured_queries)


def test_the_zombie_section_lists_what_the_health_figures_list_with_the_same_reasons(manager, org_tree):
    """Groups of every kind of health: the section's light read and with_health() +
    zombie_q agree on which are zombies and on every reason given."""
    from groups.selectors import with_health, zombie_q, zombie_reasons
    from workspace.workbench import my_groups

    now = timezone.now()
    station = org_tree["station"]

    def group(name, kind=GroupKind.VIP, age_days=40):
        made = ServiceGroup.objects.create(
            name=name, kind=kind, owner=manager, org_unit=station, rules="群规"
        )
        ServiceGroup.objects.filter(pk=made.pk).update(created_at=now - timedelta(days=age_days))
        return made

    def said(group, *, by_owner, ago, inquiry=False, due_in=None, answered=False):
        return GroupMessage.objects.create(
            group=group,
            sender_kind=GroupMessage.SenderKind.STAFF if by_owner else GroupMessage.SenderKind.CUSTOMER,
            sender_user=manager if by_owner else None,
            sender_name="某人",
            text="消息",
            sent_at=now - ago,
            is_inquiry=inquiry,
            response_due_at=None if due_in is None else now + due_in,
            answered_at=now - ago + timedelta(minutes=5) if answered else None,
        )

    lively = group("活跃群")
    said(lively, by_owner=True, ago=timedelta(days=1))
    overdue = group("超时群")
    said(overdue, by_owner=True, ago=timedelta(hours=3))
    said(overdue, by_owner=False, ago=timedelta(hours=5), inquiry=True, due_in=-timedelta(hours=1))
    said(overdue, by_owner=False, ago=timedelta(hours=6), inquiry=True, due_in=-timedelta(hours=2))
    said(overdue, by_owner=False, ago=timedelta(hours=1), inquiry=True, due_in=timedelta(hours=1))
    answered = group("已回复群")
    said(answered, by_owner=True, ago=timedelta(days=2))
    said(
        answered,
        by_owner=False,
        ago=timedelta(days=1),
        inquiry=True,
        due_in=-timedelta(hours=20),
        answered=True,
    )
    silent = group("久未发言群")
    said(silent, by_owner=True, ago=timedelta(days=60))
    group("从未发言群")
    group("新建群", age_days=1)
    public = group("公共服务群", kind=GroupKind.PUBLIC)
    said(public, by_owner=False, ago=timedelta(hours=4), inquiry=True, due_in=-timedelta(hours=1))
    group("公共静默群", kind=GroupKind.PUBLIC)

    _inquiries, zombies = my_groups(user=manager, now=now)
    expected = list(
        with_health(ServiceGroup.objects.active().filter(owner=manager), now)
        .filter(zombie_q(now))
        .order_by("name", "id")
    )
    assert [g.name for g in zombies.items] == [g.name for g in expected]
    assert {g.name for g in expected} == {"超时群", "久未发言群", "从未发言群", "公共服务群"}
    assert [g.zombie_reasons for g in zombies.items] == [zombie_reasons(g, now) for g in expected]


def test_the_header_and_the_inbox_section_show_one_count_read_once(login, manager, colleague):
    NotificationFactory.create_batch(3, recipient=manager)
    NotificationFactory(recipient=manager, read_at=timezone.now())
    NotificationFactory(recipient=colleague)
    client = login(manager)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.context["unread_notifications"] == 3
    assert response.context["inbox"].counts["total"] == 3
    assert '<span class="badge text-bg-danger" id="unread-count">3</span>' in response.content.decode()
    unread_counts = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "notifications_notification"' in q["sql"] and "COUNT(" in q["sql"]
    ]
    assert len(unread_counts) == 1, unread_counts
