"""Who sees which archive on the pages, and who sees phone numbers in full."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from customers.models import Customer

FULL = "13885551234"
MASKED = "138****1234"


def listed(client, **params) -> set[str]:
    response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    return {customer.number for customer in response.context["page"].items}


def export_rows(client, **params) -> list[tuple]:
    response = client.get(reverse("customers:export"), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return list(workbook.active.iter_rows(values_only=True))


def test_anonymous_users_are_sent_to_login(client, mine):
    for url in (reverse("customers:list"), reverse("customers:detail", args=[mine.number])):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_the_outsider_cannot_list_or_find_another_countys_customer(login, outsider, mine, foreign):
    client = login(outsider)
    assert listed(client) == {foreign.number}
    for q in (mine.name, mine.number, mine.number[:6], FULL, "永乐路"):
        assert listed(client, q=q) == set(), q
        page = client.get(reverse("customers:list"), {"q": q}).content.decode()
        assert reverse("customers:detail", args=[mine.number]) not in page


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("customers:detail", "get"),
        ("customers:edit", "get"),
        ("customers:edit", "post"),
        ("customers:verify", "post"),
        ("customers:delete", "post"),
        ("customers:contact_create", "get"),
        ("customers:contact_create", "post"),
    ],
)
def test_the_outsider_gets_404_on_every_page_of_another_countys_customer(login, outsider, mine, name, method):
    client = login(outsider)
    response = getattr(client, method)(reverse(name, args=[mine.number]), {"name": "改名"})
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["customers:contact_edit", "customers:contact_delete"])
def test_the_outsider_gets_404_on_another_countys_contacts(login, outsider, mine, name):
    contact = mine.contacts.get()
    response = login(outsider).post(reverse(name, args=[mine.number, contact.pk]), {"name": "改名"})
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.name == "杨老板"


def test_a_contact_of_another_customer_is_404_under_a_visible_customer(login, manager, mine, foreign):
    foreign_contact = foreign.contacts.get()
    response = login(manager).get(reverse("customers:contact_edit", args=[mine.number, foreign_contact.pk]))
    assert response.status_code == 404


def test_nothing_changed_after_the_outsiders_attempts(login, outsider, mine):
    client = login(outsider)
    client.post(reverse("customers:verify", args=[mine.number]))
    client.post(reverse("customers:delete", args=[mine.number]))
    mine.refresh_from_db()
    assert mine.deleted_at is None
    assert mine.history.count() == 1


def test_the_outsiders_export_holds_only_their_own_county(login, outsider, mine, foreign):
    rows = export_rows(login(outsider))
    numbers = [row[0] for row in rows[1:]]
    assert numbers == [foreign.number]


def test_the_supervisor_sees_the_whole_county(
    login, supervisor, mine, colleagues, make_customer, org_tree, foreign
):
    sibling = make_customer(number="5202000001", name="丹江所客户", station=org_tree["sibling_station"])
    assert listed(login(supervisor)) == {mine.number, colleagues.number, sibling.number}


def test_the_colleague_sees_own_station_customers_with_masked_phones(login, colleague, mine):
    client = login(colleague)
    listing = client.get(reverse("customers:list")).content.decode()
    assert mine.number in listing
    assert MASKED in listing
    assert FULL not in listing
    detail = client.get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert MASKED in detail
    assert FULL not in detail


def test_the_owner_sees_full_phones(login, manager, mine):
    client = login(manager)
    assert FULL in client.get(reverse("customers:list")).content.decode()
    assert FULL in client.get(reverse("customers:detail", args=[mine.number])).content.decode()


def test_the_supervisor_who_does_not_own_the_customer_sees_masked_phones(login, supervisor, mine):
    detail = login(supervisor).get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert MASKED in detail
    assert FULL not in detail


def test_export_masks_phones_of_customers_the_user_does_not_own(login, colleague, mine, colleagues):
    rows = export_rows(login(colleague))
    header, *body = rows
    assert header[0] == "户号"
    assert "联系电话" in header
    phone = header.index("联系电话")
    by_number = {row[0]: row for row in body}
    assert by_number[mine.number][phone] == MASKED
    assert by_number[colleagues.number][phone] == "13885552345"


def test_export_follows_the_list_filters(login, manager, mine, colleagues):
    rows = export_rows(login(manager), q="永乐酒店")
    assert [row[0] for row in rows[1:]] == [mine.number]
    assert rows[1][rows[0].index("联系电话")] == FULL


def test_the_colleague_may_not_delete_but_the_supervisor_may(login, colleague, supervisor, mine):
    response = login(colleague).post(reverse("customers:delete", args=[mine.number]))
    assert response.status_code == 403
    assert Customer.objects.filter(pk=mine.pk).exists()

    response = login(supervisor).post(reverse("customers:delete", args=[mine.number]))
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=mine.pk).exists()
    assert Customer.all_objects.get(pk=mine.pk).deleted_at is not None
    assert login(supervisor).get(reverse("customers:detail", args=[mine.number])).status_code == 404


def test_the_owner_and_the_administrator_may_delete(login, manager, admin_user, mine, colleagues):
    assert login(manager).post(reverse("customers:delete", args=[mine.number])).status_code == 302
    assert login(admin_user).post(reverse("customers:delete", args=[colleagues.number])).status_code == 302
    assert not Customer.objects.filter(pk__in=[mine.pk, colleagues.pk]).exists()


def test_the_delete_button_is_shown_only_to_who_may_delete(login, manager, colleague, mine):
    button = reverse("customers:delete", args=[mine.number])
    assert button in login(manager).get(reverse("customers:detail", args=[mine.number])).content.decode()
    assert (
        button not in login(colleague).get(reverse("customers:detail", args=[mine.number])).content.decode()
    )


def test_the_colleague_editing_a_contact_never_sees_the_full_number_and_keeps_it(login, colleague, mine):
    contact = mine.contacts.get()
    client = login(colleague)
    url = reverse("customers:contact_edit", args=[mine.number, contact.pk])
    form = client.get(url).content.decode()
    assert FULL not in form
    assert MASKED in form
    response = client.post(
        url,
        {
            "name": "杨总",
            "relation": "self",
            "mobile": "",
            "landline": "",
            "preferred_channel": "phone",
            "is_primary": "on",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.mobile) == ("杨总", FULL)
