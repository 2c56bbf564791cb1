"""The outage page's reach figures, the drill-down, and the call list: scoping, outcomes, queries."""

import re

from customers.models import Contact, Customer
from notifications.models import Notification
from outages import services as outages
from reach.models import CallState, ReachRecord, State
from tests.factories import ContactFactory, CustomerFactory


def add(district, *, kind=Customer.Kind.RESIDENT, contacts=(), **flags):
    customer = CustomerFactory(
        station=district.station,
        district=district,
        line=district.line,
        kind=kind,
        manager=district.manager,
        **flags,
    )
    for index, fields in enumerate(contacts):
        ContactFactory(customer=customer, is_primary=index == 0, **fields)
    return customer


LANDLINE = {"mobile": "", "landline": "0855-8123456"}


def mixed_outage(grid, fault, populate):
    populate(grid["d1"], 5)  # covered by the WeCom group
    populate(grid["d2"], 4, sensitive=1)  # no group: SMS
    add(grid["d2"], contacts=[LANDLINE], is_sensitive=True)  # sensitive without a mobile: a call
    add(grid["d2"], contacts=[LANDLINE])  # residential without a mobile: a call
    add(grid["d2"], kind=Customer.Kind.COMMERCIAL, contacts=[LANDLINE])  # unreachable
    add(grid["d2"], kind=Customer.Kind.COMMERCIAL)  # no contact at all: unreachable
    outage = outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    outages.fan_out_due()
    return outage


def figures(body: str) -> dict[str, int]:
    rows = re.findall(r'data-(?:channel="(\w+)" data-)?state="(\w+)">.*?text-end">(\d+)<', body, re.S)
    return {f"{channel}:{state}".lstrip(":"): int(count) for channel, state, count in rows}


def test_the_outage_page_figures_add_up_to_the_affected_count(
    grid, populate, fault, district_group, login, manager, django_assert_max_num_queries
):
    outage = mixed_outage(grid, fault, populate)
    Notification.objects.filter(channel="sms").order_by("pk").first()
    client = login(manager)
    with django_assert_max_num_queries(40):
        response = client.get(f"/outages/{outage.pk}/")
    body = response.content.decode()
    got = figures(body)
    assert got == {
        "group:waiting": 5,
        "sms:queued": 4,
        "call:waiting": 2,
        "unreachable": 2,
    }
    assert sum(got.values()) == outage.affected.count() == 13
    assert re.search(r'reach-total">13<', body)
    assert "首次通知已告知 0 / 13 户" in body and "已通知</span>" not in body
    assert "档案中没有联系人：1" in body


def test_notified_only_when_every_customer_was_told(grid, populate, fault, district_group, manager, login):
    from reach.services import reach_call_record, reach_group_post_state, reach_refresh

    populate(grid["d1"], 2)
    populate(grid["d2"], 1)
    add(grid["d2"], contacts=[LANDLINE])
    outage = mixed = outages.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    outages.fan_out_due()
    records = ReachRecord.objects.filter(customer__outages_affected__outage=mixed)
    group = records.filter(channel="group").first()
    reach_group_post_state(broadcast_id=group.broadcast_id, group_id=group.group_id, state="sent")
    Notification.objects.filter(channel="sms").update(status="sent")
    reach_refresh()
    call = records.get(channel="call")
    body = login(manager).get(f"/outages/{outage.pk}/").content.decode()
    assert "已通知</span>" not in body
    reach_call_record(record=call, by=manager, outcome="done")
    if hasattr(Notification, "delivery_status"):
        Notification.objects.filter(channel="sms").update(delivery_status="delivered")
    else:
        ReachRecord.objects.filter(channel="sms").update(state=State.REACHED)
    reach_refresh()
    body = login(manager).get(f"/outages/{outage.pk}/").content.decode()
    assert "已通知</span>" in body


def test_the_drill_down_lists_the_customers_of_a_figure_and_exports_them(
    grid, populate, fault, district_group, login, manager, outsider, django_assert_max_num_queries
):
    outage = mixed_outage(grid, fault, populate)
    client = login(manager)
    notice = outage.notices.get()
    with django_assert_max_num_queries(12):
        response = client.get(f"/outages/{outage.pk}/reach/?notice={notice.pk}&channel=call&state=waiting")
    assert response.content.decode().count("data-customer=") == 2
    export = client.get(f"/outages/{outage.pk}/reach.xlsx?notice={notice.pk}")
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxml")
    # Bad input answers the whole list, not an error.
    assert client.get(f"/outages/{outage.pk}/reach/?notice=x&channel=%00&state=zz").status_code == 200
    assert client.get(f"/outages/{outage.pk}/reach/?notice=999999").status_code == 404
    assert login(outsider).get(f"/outages/{outage.pk}/reach/").status_code == 404
    assert login(outsider).get(f"/outages/{outage.pk}/reach.xlsx").status_code == 404


def test_the_call_list_is_scoped_and_records_outcomes_in_one_tap(
    grid,
    populate,
    fault,
    district_group,
    login,
    manager,
    colleague,
    supervisor,
    outsider,
    django_assert_max_num_queries,
):
    outage = mixed_outage(grid, fault, populate)
    calls = ReachRecord.objects.filter(call_state=CallState.PENDING).order_by("pk")
    assert calls.count() == 2 and {c.call_assignee_id for c in calls} == {manager.pk}
    client = login(manager)
    with django_assert_max_num_queries(10):
        body = client.get("/reach/calls/").content.decode()
    assert body.count("data-call=") == 2 and 'href="tel:0855-8123456"' in body
    overseen = login(supervisor).get("/reach/calls/").content.decode()
    assert overseen.count("data-call=") == 2 and "tel:" not in overseen and "0855-8123456" not in overseen
    for other in (colleague, outsider):
        assert login(other).get("/reach/calls/").content.decode().count("data-call=") == 0
        assert login(other).post(f"/reach/calls/{calls[0].pk}/done/").status_code == 404
    first, second = calls
    client = login(manager)
    assert client.post(f"/reach/calls/{first.pk}/done/").status_code == 302
    assert client.post(f"/reach/calls/{second.pk}/maybe/").status_code == 302  # refused, nothing changes
    second.refresh_from_db()
    assert second.call_state == CallState.PENDING
    client.post(f"/reach/calls/{second.pk}/wrong_number/")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.call_state, first.state) == (CallState.DONE, State.REACHED)
    assert (second.call_state, second.state) == (CallState.WRONG_NUMBER, State.FAILED)
    contact = Contact.objects.get(pk=second.contact_id)
    assert contact.phone_flagged_at is not None
    assert contact.customer.completeness < 100
    assert "没有待拨打的电话通知" in client.get("/").content.decode()
    assert outage.pk


def test_pending_calls_are_on_the_workbench(grid, populate, fault, district_group, login, manager):
    mixed_outage(grid, fault, populate)
    body = login(manager).get("/").content.decode()
    assert 'id="wb-count-calls"' in body and body.count("wb-call-list") == 1
