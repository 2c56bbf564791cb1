"""A small working day for the page-layout browser tests: a few records on every main list.

The manager owns the customers (so their phones show in full and become tel: links);
the station, the county and the province see them through their org units.
"""

from datetime import timedelta

from django.utils import timezone

from customers.models import Visit
from groups.models import GroupKind, ServiceGroup
from outages.models import Outage, OutageKind, OutageStatus
from tests.factories import ContactFactory, CustomerFactory, NotificationFactory
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

# The main navigation's lists and, for each, the selector of its first record.
RECORDS = {
    "/": ".workbench .list-group-item, .workbench .card-body",
    "/dashboard/": "main .card",
    "/customers/": ".customer-table tbody tr",
    "/customers/visits/mine/": ".visit-item",
    "/customers/interactions/new/": "main form",
    "/tickets/": ".ticket-row",
    "/groups/": ".group-row",
    "/outages/": ".outage-table tbody tr",
    "/notifications/": "#notification-list .list-group-item",
    "/ops/": "main .card",
}


def field_day(org_tree, manager, *recipients) -> dict:
    seed_default_policies(SlaPolicy)
    station = org_tree["station"]
    customers = []
    for index, (name, mobile) in enumerate(
        [("朱丽霞", "13985551234"), ("雷山县银球茶叶有限公司", "15885556789"), ("杨光明", "13765431234")]
    ):
        customer = CustomerFactory(name=name, station=station, manager=manager)
        ContactFactory(customer=customer, name=name[:3], mobile=mobile, is_primary=True)
        customers.append(customer)
        ticket_services.ticket_create(
            customer=customer,
            opened_by=manager,
            assignee=manager,
            kind=Kind.COMPLAINT,
            title=f"客户来电反映电费异常{index + 1}",
            description="客户来电反映电费异常，请核实抄表数据。",
            contact=customer.contacts.get(),
        )
    ServiceGroup.objects.create(
        name="雷山VIP客户服务群", kind=GroupKind.VIP, owner=manager, org_unit=station, rules="文明发言"
    )
    now = timezone.now()
    Outage.objects.create(
        kind=OutageKind.PLANNED,
        reason="10kV永乐线检修",
        status=OutageStatus.PUBLISHED,
        org_unit=station,
        planned_start=now + timedelta(days=1),
        planned_end=now + timedelta(days=1, hours=6),
        created_by=manager,
    )
    for user in dict.fromkeys((manager, *recipients)):
        Visit.objects.create(
            customer=customers[0],
            staff=user,
            purpose=Visit.Purpose.ROUTINE,
            scheduled_at=now + timedelta(hours=2),
        )
        NotificationFactory(recipient=user, subject="工单即将超时", body="请及时处理。", link="/tickets/")
    return {"customers": customers}
