from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from outages import services
from outages.models import Outage, OutageStatus


def test_list_shows_ongoing_and_upcoming(login, manager, grid, populate, fault, planned):
    populate(grid["d1"], 2)
    ongoing = services.outage_publish(outage=fault())
    upcoming = planned()
    response = login(manager).get(reverse("outages:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("outages:detail", args=[ongoing.pk]) in body
    assert reverse("outages:detail", args=[upcoming.pk]) in body


def test_create_form_shows_scope_with_counts_and_creates(login, manager, grid, populate):
    populate(grid["d1"], 3)
    client = login(manager)
    page = client.get(reverse("outages:create")).content.decode()
    assert "永乐一号台区" in page and "3 户" in page
    start = timezone.localtime() + timedelta(days=9)
    response = client.post(
        reverse("outages:create"),
        {
            "kind": "planned",
            "reason": "线路检修",
            "planned_start": start.strftime("%Y-%m-%dT%H:%M"),
            "planned_end": (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
            "lines": [grid["line"].pk],
        },
    )
    outage = Outage.objects.get()
    assert response.status_code == 302
    assert list(outage.lines.all()) == [grid["line"]]


def test_create_form_reports_errors_in_chinese(login, manager, grid):
    response = login(manager).post(reverse("outages:create"), {"kind": "planned", "reason": "检修"})
    assert response.status_code == 200
    assert "请至少选择一条线路或一个台区。" in response.content.decode()
    assert not Outage.objects.exists()


def test_create_form_refuses_control_characters(login, manager, grid):
    response = login(manager).post(
        reverse("outages:create"),
        {"kind": "planned", "reason": "检修\x1b[31m", "districts": [grid["d1"].pk]},
    )
    assert response.status_code == 200
    assert "不能包含控制字符" in response.content.decode()
    assert not Outage.objects.exists()


def test_detail_shows_impact_notices_and_actions(
    login, manager, grid, populate, fault, district_group, django_assert_max_num_queries
):
    customers = populate(grid["d1"], 4, sensitive=2)
    outage = services.outage_publish(outage=fault())
    services.fan_out_due()
    client = login(manager)
    with django_assert_max_num_queries(25):
        response = client.get(reverse("outages:detail", args=[outage.pk]))
    body = response.content.decode()
    assert "影响 4 户，其中敏感客户 2 户" in body
    assert "停电开始通知" in body
    assert customers[0].number in body and customers[3].number not in body
    response = client.post(reverse("outages:action", args=[outage.pk, "restore"]))
    assert response.status_code == 302
    outage.refresh_from_db()
    assert outage.status == OutageStatus.RESTORED


def test_publish_and_estimate_actions(login, manager, grid, populate, fault):
    populate(grid["d1"], 1)
    outage = fault()
    client = login(manager)
    client.post(reverse("outages:action", args=[outage.pk, "publish"]))
    new = (timezone.localtime() + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M")
    client.post(reverse("outages:action", args=[outage.pk, "estimate"]), {"estimated_restoration": new})
    assert set(outage.notices.values_list("kind", flat=True)) == {"start", "delay-1"}


def test_outsider_gets_404(login, outsider, fault):
    outage = fault()
    client = login(outsider)
    assert client.get(reverse("outages:detail", args=[outage.pk])).status_code == 404
    assert client.post(reverse("outages:action", args=[outage.pk, "publish"])).status_code == 404
    assert outage.notices.count() == 0
    assert (
        str(outage.pk) not in client.get(reverse("outages:list")).content.decode().split("outages/")[-1][:5]
    )


def test_customer_page_loads_the_outages_panel(login, manager, outsider, grid, populate, fault):
    customer = populate(grid["d1"], 1)[0]
    outage = services.outage_publish(outage=fault())
    client = login(manager)
    panel = reverse("outages:customer_panel", args=[customer.number])
    assert panel in client.get(reverse("customers:detail", args=[customer.number])).content.decode()
    body = client.get(panel).content.decode()
    assert reverse("outages:detail", args=[outage.pk]) in body
    assert "变压器故障" in body
    assert login(outsider).get(panel).status_code == 404
