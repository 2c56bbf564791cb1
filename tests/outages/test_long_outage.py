from datetime import timedelta

import time_machine
from django.utils import timezone

from customers.models import Customer, Visit
from notifications.models import Notification
from outages import services


def test_long_fault_outage_sends_the_district_manager_on_site_once(
    manager, supervisor, grid, populate, fault
):
    residents = populate(grid["d1"], 3)
    populate(grid["d2"], 2, kind=Customer.Kind.COMMERCIAL)
    outage = services.outage_publish(outage=fault(districts=[grid["d1"], grid["d2"]]))
    assert services.long_outage_scan() == 0
    later = timezone.now() + timedelta(hours=4, minutes=1)
    with time_machine.travel(later):
        assert services.long_outage_scan() == 1
        assert services.long_outage_scan() == 0
    visit = Visit.objects.get()
    assert visit.origin_key == f"outage:{outage.pk}:district:{grid['d1'].pk}"
    assert (visit.staff, visit.purpose, visit.customer_id) == (manager, Visit.Purpose.OUTAGE, residents[0].pk)
    note = Notification.objects.get(recipient=supervisor)
    assert note.dedupe_key == f"outage:{outage.pk}:district:{grid['d1'].pk}:supervisor:{supervisor.pk}"
    assert "永乐一号台区" in note.subject


def test_planned_or_restored_outages_get_no_visit(settings, grid, populate, fault, planned):
    settings.OUTAGE_LONG_HOURS = 1
    populate(grid["d1"], 2)
    services.outage_publish(outage=planned())
    restored = services.outage_restore(outage=services.outage_publish(outage=fault()))
    assert restored.actual_end is not None
    with time_machine.travel(timezone.now() + timedelta(days=20)):
        assert services.long_outage_scan() == 0
    assert not Visit.objects.exists()
