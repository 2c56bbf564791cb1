"""A complaint or repair order tells the customer at creation, once."""

from customers.models import Contact
from notifications.models import Notification
from reach.models import Channel, ReachRecord, Reason, State
from tests.factories import ContactFactory, CustomerFactory
from tickets import services as tickets
from tickets.models import Kind


def open_order(customer, manager, **fields):
    fields.setdefault("kind", Kind.COMPLAINT)
    return tickets.ticket_create(
        customer=customer, opened_by=manager, title="停电太久", description="客户反映停电时间过长。", **fields
    )


def test_an_accepted_complaint_is_told_by_sms_at_creation_once(org_tree, manager):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer, mobile="", landline="0855-8123456")
    second = ContactFactory(customer=customer, is_primary=False, mobile="13900001111")
    ticket, created = open_order(customer, manager, source="95598", external_id="95598-1", assignee=manager)
    again, created_again = open_order(customer, manager, source="95598", external_id="95598-1")
    assert created and not created_again and again.pk == ticket.pk
    sms = Notification.objects.get(channel="sms")
    assert sms.address == second.mobile and ticket.number in sms.subject
    assert manager.mobile not in sms.subject + sms.body
    record = ReachRecord.objects.get(customer=customer)
    assert (record.channel, record.reason, record.state) == (Channel.SMS, Reason.ACCEPTANCE, State.QUEUED)
    assert record.notification == sms and record.notice.key == f"ticket:{ticket.pk}:accepted"
    if hasattr(sms, "template_kind"):
        assert sms.template_kind == "complaint_accepted" and sms.template_params["number"] == ticket.number
    tickets.ticket_sign(ticket=ticket, by=manager)
    assert Notification.objects.filter(channel="sms").count() == 1


def test_a_repair_without_a_mobile_is_recorded_unreachable(org_tree, manager):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer, mobile="", landline="0855-8123456")
    open_order(customer, manager, kind=Kind.REPAIR)
    record = ReachRecord.objects.get(customer=customer)
    assert (record.channel, record.state) == (Channel.NONE, State.UNREACHABLE)
    assert not Notification.objects.filter(channel="sms").exists()


def test_an_inquiry_sends_nothing(org_tree, manager):
    customer = CustomerFactory(station=org_tree["station"], manager=manager)
    ContactFactory(customer=customer)
    open_order(customer, manager, kind=Kind.INQUIRY)
    assert not ReachRecord.objects.exists() and not Notification.objects.filter(channel="sms").exists()
    assert Contact.objects.count() == 1


def test_the_customer_page_lists_what_the_customer_was_told_per_outage(
    grid, populate, fault, login, manager, outsider
):
    from outages import services as outages

    customer = populate(grid["d2"], 1)[0]
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    body = login(manager).get(f"/outages/customer/{customer.number}/").content.decode()
    assert "customer-outage-reach" in body and "停电开始通知 · 短信 · 待发送" in body
    assert outage.pk
    assert login(outsider).get(f"/outages/customer/{customer.number}/").status_code == 404
