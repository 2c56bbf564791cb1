"""The admin: archive list, change page with contacts and the change history."""

from django.urls import reverse


def test_the_admin_pages_open(login, admin_user, mine, grid):
    client = login(admin_user)
    for url in (
        reverse("admin:customers_customer_changelist"),
        reverse("admin:customers_customer_changelist") + "?q=13885551234",
        reverse("admin:customers_customer_change", args=[mine.pk]),
        reverse("admin:customers_customer_history", args=[mine.pk]),
        reverse("admin:customers_line_changelist"),
        reverse("admin:customers_district_changelist"),
        reverse("admin:customers_district_change", args=[grid["district"].pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_the_admin_search_finds_by_contact_phone_once(login, admin_user, mine):
    from customers import services

    services.contact_create(customer=mine, user=admin_user, name="前台", mobile="13885551234")
    response = login(admin_user).get(reverse("admin:customers_customer_changelist"), {"q": "13885551234"})
    assert list(response.context["cl"].result_list) == [mine]


def test_two_primary_contacts_in_the_admin_are_refused(login, admin_user, mine):
    contact = mine.contacts.get()
    data = {
        "number": mine.number,
        "name": mine.name,
        "kind": mine.kind,
        "segment": mine.segment,
        "voltage": mine.voltage,
        "address": mine.address,
        "station": mine.station_id,
        "district": mine.district_id,
        "line": mine.line_id,
        "manager": mine.manager_id,
        "vip_tier": 0,
        "is_important": "on",
        "contacts-TOTAL_FORMS": "2",
        "contacts-INITIAL_FORMS": "1",
        "contacts-0-id": contact.pk,
        "contacts-0-customer": mine.pk,
        "contacts-0-name": contact.name,
        "contacts-0-relation": "self",
        "contacts-0-mobile": contact.mobile,
        "contacts-0-preferred_channel": "phone",
        "contacts-0-is_primary": "on",
        "contacts-1-customer": mine.pk,
        "contacts-1-name": "第二位",
        "contacts-1-relation": "self",
        "contacts-1-mobile": "13885550002",
        "contacts-1-preferred_channel": "phone",
        "contacts-1-is_primary": "on",
    }
    response = login(admin_user).post(reverse("admin:customers_customer_change", args=[mine.pk]), data)
    assert response.status_code == 200
    assert "一个客户只能有一位主联系人。" in response.content.decode()
    assert mine.contacts.count() == 1
