"""Archive quality: completeness with the missing fields, and freshness (seed 001 §1)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.models import Customer
from customers.quality import archive_gaps, completeness_score

ALL_GAPS = ["用电地址", "台区", "线路", "客户经理", "电压等级", "联系人电话", "主联系人"]


def test_an_empty_archive_misses_every_key_field(make_customer):
    customer = make_customer()
    assert archive_gaps(customer, []) == ALL_GAPS
    assert customer.completeness == 0


def test_a_complete_archive_scores_100(mine):
    assert archive_gaps(mine, mine.contacts.all()) == []
    assert mine.completeness == 100


def test_the_score_follows_contacts_and_fields(make_customer, manager, grid):
    customer = make_customer(
        by=manager, address="雷山县西江镇", district=grid["district"], manager=manager, voltage="220V"
    )
    assert customer.completeness == round(100 * 5 / 7)
    assert archive_gaps(customer, []) == ["联系人电话", "主联系人"]

    contact = services.contact_create(customer=customer, user=manager, name="甲", mobile="13885550101")
    customer.refresh_from_db()
    assert customer.completeness == round(100 * 6 / 7)

    services.contact_update(contact=contact, user=manager, is_primary=True)
    customer.refresh_from_db()
    assert customer.completeness == 100

    customer = services.customer_update(customer=customer, updated_by=manager, address="")
    assert customer.completeness == round(100 * 6 / 7)
    assert Customer.objects.get(pk=customer.pk).completeness == customer.completeness

    services.contact_delete(contact=contact, user=manager)
    customer.refresh_from_db()
    assert customer.completeness == round(100 * 4 / 7)
    assert completeness_score(customer, []) == customer.completeness


def test_the_360_page_shows_the_score_and_what_is_missing(login, manager, mine):
    services.customer_update(customer=mine, updated_by=manager, address="", voltage="")
    page = login(manager).get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert "71%" in page
    assert "用电地址" in page.split("待补充")[1][:400]
    assert "电压等级" in page.split("待补充")[1][:400]


def test_the_360_page_shows_freshness(login, manager, mine):
    page = login(manager).get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert timezone.localdate().strftime("%Y-%m-%d") in page
    assert "标记档案已核实" in page


def test_the_one_to_one_hint_appears_for_flagged_customers(login, manager, mine, make_customer):
    hint = "该客户需一对一联系，不可仅发群消息"
    client = login(manager)
    assert hint in client.get(reverse("customers:detail", args=[mine.number])).content.decode()
    plain = make_customer(by=manager, number="5201000077", manager=manager)
    assert hint not in client.get(reverse("customers:detail", args=[plain.number])).content.decode()


def listed(client, **params) -> set[str]:
    response = client.get(reverse("customers:list"), params)
    return {customer.number for customer in response.context["page"].items}


def test_the_stale_filter_finds_old_and_never_verified_archives(login, manager, make_customer, settings):
    old = make_customer(by=manager, number="5201000010", manager=manager)
    never = make_customer(by=manager, number="5201000011", manager=manager)
    fresh = make_customer(by=manager, number="5201000012", manager=manager)
    now = timezone.now()
    Customer.objects.filter(pk=old.pk).update(
        verified_at=now - timedelta(days=settings.ARCHIVE_STALE_DAYS + 1)
    )
    Customer.objects.filter(pk=fresh.pk).update(verified_at=now - timedelta(days=3))
    client = login(manager)
    assert listed(client, stale="1") == {old.number, never.number}
    assert listed(client, stale="0") == {fresh.number}

    response = client.post(reverse("customers:verify", args=[old.number]))
    assert response.status_code == 302
    assert listed(client, stale="1") == {never.number}


def test_the_incomplete_filter(login, manager, mine, make_customer):
    partial = make_customer(by=manager, number="5201000013", manager=manager)
    client = login(manager)
    assert listed(client, incomplete="1") == {partial.number}
    assert listed(client, incomplete="0") == {mine.number}
