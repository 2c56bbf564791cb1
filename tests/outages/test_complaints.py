"""停电 work orders of affected customers link to the outage; planned outages start on time;
district managers see the outages over their districts."""

from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from outages import complaints, services, tasks
from outages.models import Outage, OutageComplaint, OutageKind, OutageStatus
from tickets import services as ticket_services
from tickets.models import Category, Kind


def complain(customer, manager, *, category=Category.OUTAGE):
    ticket, _created = ticket_services.ticket_create(
        customer=customer,
        opened_by=manager,
        kind=Kind.COMPLAINT,
        category=category,
        title="停电太久",
        description="家里停电一上午了，什么时候来电？",
    )
    return ticket


def linked(outage):
    return set(OutageComplaint.objects.filter(outage=outage).values_list("ticket_id", flat=True))


def test_an_outage_complaint_of_an_affected_customer_is_linked_when_it_is_saved(
    manager, grid, populate, fault, django_capture_on_commit_callbacks
):
    affected, elsewhere = populate(grid["d1"], 1)[0], populate(grid["d3"], 1)[0]
    outage = services.outage_publish(outage=fault())
    with django_capture_on_commit_callbacks(execute=True):
        about_it = complain(affected, manager)
        billing = complain(affected, manager, category=Category.BILLING)
        not_affected = complain(elsewhere, manager)
    assert linked(outage) == {about_it.pk}
    assert billing.pk not in linked(outage) and not_affected.pk not in linked(outage)


def test_the_sweep_links_complaints_made_before_the_fault_was_published_and_only_once(
    manager, grid, populate, fault
):
    customer = populate(grid["d1"], 1)[0]
    outage = fault()
    early = complain(customer, manager)  # the hook finds no frozen customers yet
    services.outage_publish(outage=outage)
    assert complaints.complaints_sweep() == 1
    assert complaints.complaints_sweep() == 0
    assert linked(outage) == {early.pk}


def test_complaints_before_the_outage_or_long_after_restoration_are_not_linked(
    manager, grid, populate, planned, django_capture_on_commit_callbacks
):
    customer = populate(grid["d1"], 1)[0]
    outage = services.outage_publish(outage=planned())
    before = complain(customer, manager)
    start = outage.planned_start
    with time_machine.travel(start + timedelta(minutes=5)):
        services.outages_start_due()
        with django_capture_on_commit_callbacks(execute=True):
            during = complain(customer, manager)
    with time_machine.travel(start + timedelta(hours=1)):
        services.outage_restore(outage=outage)
    with time_machine.travel(start + timedelta(hours=2)):
        after = complain(customer, manager)
        complaints.complaints_sweep()
    with time_machine.travel(start + timedelta(hours=5)):
        with django_capture_on_commit_callbacks(execute=True):
            late = complain(customer, manager)
        complaints.complaints_sweep()
    assert linked(outage) == {during.pk, after.pk}
    assert before.pk not in linked(outage) and late.pk not in linked(outage)


def test_a_complaint_about_a_long_outage_is_passed_on_to_its_registrar_once(
    settings, manager, grid, populate, fault, django_capture_on_commit_callbacks
):
    settings.OUTAGE_LONG_HOURS = 4
    customer = populate(grid["d1"], 1)[0]
    outage = services.outage_publish(outage=fault())
    with (
        time_machine.travel(timezone.now() + timedelta(hours=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        complain(customer, manager)
    assert not Notification.objects.filter(dedupe_key__contains=":complaint:").exists()
    with time_machine.travel(timezone.now() + timedelta(hours=5)):
        with django_capture_on_commit_callbacks(execute=True):
            late = complain(customer, manager)
        complaints.complaints_sweep()
    passed_on = Notification.objects.get(dedupe_key=f"outage:{outage.pk}:complaint:{late.pk}")
    assert passed_on.recipient_id == manager.pk and late.number in passed_on.subject


def test_the_outage_page_lists_its_complaints(
    login, manager, grid, populate, fault, django_capture_on_commit_callbacks
):
    customer = populate(grid["d1"], 1)[0]
    outage = services.outage_publish(outage=fault())
    with django_capture_on_commit_callbacks(execute=True):
        ticket = complain(customer, manager)
    body = login(manager).get(reverse("outages:detail", args=[outage.pk])).content.decode()
    assert ticket.number in body and "停电投诉工单" in body


def test_a_published_planned_outage_starts_at_its_planned_time(manager, grid, populate, planned):
    populate(grid["d1"], 1)
    due = services.outage_publish(outage=planned())
    cancelled = services.outage_publish(outage=planned())
    services.outage_cancel(outage=cancelled)
    with time_machine.travel(due.planned_start - timedelta(minutes=1)):
        assert services.outages_start_due() == 0
    with time_machine.travel(due.planned_start + timedelta(seconds=30)):
        tasks.fan_out_notices()
    due.refresh_from_db()
    cancelled.refresh_from_db()
    assert (due.status, due.actual_start) == (OutageStatus.ONGOING, due.planned_start)
    assert cancelled.status == OutageStatus.CANCELLED
    assert due.notices.get(kind="start").fanned_out_at is not None


def test_a_district_manager_sees_outages_over_their_districts_whoever_registered_them(
    supervisor, manager, colleague, outsider, grid
):
    by_district = services.outage_create(
        by=supervisor, kind=OutageKind.FAULT, reason="台区故障", districts=[grid["d1"]]
    )
    by_line = services.outage_create(
        by=supervisor, kind=OutageKind.FAULT, reason="线路故障", lines=[grid["line"]]
    )
    assert by_district.org_unit != manager.org_unit
    assert set(Outage.objects.visible_to(manager)) == {by_district, by_line}
    assert not Outage.objects.visible_to(colleague).exists()
    assert not Outage.objects.visible_to(outsider).exists()
