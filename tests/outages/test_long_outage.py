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
    assert (visit.staff, visit.purpose, visit.customer_id) == (manager, Visit.Purpose.OUTAGE, None)
    assert visit.district == grid["d1"] and len(residents) == 3
    told = Notification.objects.get(recipient=manager, channel="inapp")
    assert "3 户居民" in told.subject and told.link == f"/outages/{outage.pk}/"
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


def test_the_district_visit_is_on_the_managers_planner_and_seen_by_the_supervisor_only(
    manager, supervisor, outsider, colleague, grid, populate, fault, login
):
    populate(grid["d1"], 2)
    outage = services.outage_publish(outage=fault(districts=[grid["d1"]]))
    with time_machine.travel(timezone.now() + timedelta(hours=4, minutes=1)):
        services.long_outage_scan()
    visit = Visit.objects.get()
    assert set(Visit.objects.visible_to(supervisor)) == {visit}
    assert not Visit.objects.visible_to(outsider).exists()
    body = login(manager).get("/customers/visits/mine/").content.decode()
    assert f'id="visit-{visit.pk}"' in body and "永乐一号台区" in body
    assert f"?district_id={grid['d1'].pk}&kind=resident" in body
    assert login(outsider).post(f"/customers/visits/{visit.pk}/confirm/").status_code == 404
    page = login(manager).get(f"/outages/{outage.pk}/").content.decode()
    assert "outage-visits" in page
