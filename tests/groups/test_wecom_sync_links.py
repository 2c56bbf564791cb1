"""WeCom customers linked to archive contacts: by the owner's remark_mobiles, or by hand (scoped)."""

import pytest
from django.urls import reverse

from customers.models import Contact
from groups.models import Membership, ServiceGroup, UnlinkedMember
from groups.services.wecom_sync import chat_sync, groups_reconcile
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def synced_group(corp, members, name="VIP客户群") -> ServiceGroup:
    chat_id = corp.group(name, "zhangsan", members)
    chat_sync(chat_id=chat_id)
    return ServiceGroup.objects.get(external_id=chat_id)


# --- remark_mobiles ------------------------------------------------------------------------


def test_a_customer_is_linked_by_the_owners_remark_mobiles(corp, make_customer):
    contact = make_customer(name="杨丽").contacts.get()
    corp.contact("wmYang", "杨丽", [{"userid": "zhangsan", "remark_mobiles": [contact.mobile]}])

    group = synced_group(corp, ["wmYang"])

    contact.refresh_from_db()
    assert contact.wecom_external_userid == "wmYang"
    assert Membership.objects.active().filter(group=group, contact=contact).exists()
    assert not UnlinkedMember.objects.filter(group=group).exists()
    # The change is in the contact's history.
    assert contact.history.first().wecom_external_userid == "wmYang"


def test_the_reconcile_matches_within_its_budget_and_later_runs_do_the_rest(corp, make_customer, settings):
    settings.WECOM_REMARK_LOOKUPS_PER_RUN = 1
    contacts = [make_customer().contacts.get() for _ in range(2)]
    for index, contact in enumerate(contacts):
        corp.contact(f"wm{index}", "客户", [{"userid": "zhangsan", "remark_mobiles": [contact.mobile]}])
    corp.group("VIP群", "zhangsan", ["wm0", "wm1"])

    first = groups_reconcile()
    second = groups_reconcile()

    assert (first.remark_checked, first.remark_linked) == (1, 1)
    assert (second.remark_checked, second.remark_linked) == (1, 1)
    assert set(
        Contact.objects.exclude(wecom_external_userid="").values_list("wecom_external_userid", flat=True)
    ) == {
        "wm0",
        "wm1",
    }
    assert groups_reconcile().remark_checked == 0


def test_no_link_when_two_contacts_share_the_mobile_or_the_contact_is_out_of_the_owners_reach(
    corp, make_customer, org_tree
):
    twin = make_customer().contacts.get()
    ContactFactory(customer=make_customer(contacts=0), mobile=twin.mobile, is_primary=True)
    far = ContactFactory(customer=CustomerFactory(station=org_tree["other_station"]), mobile="13900001111")
    corp.contact("wmTwin", "双胞胎", [{"userid": "zhangsan", "remark_mobiles": [twin.mobile]}])
    corp.contact("wmFar", "远方", [{"userid": "zhangsan", "remark_mobiles": [far.mobile]}])

    group = synced_group(corp, ["wmTwin", "wmFar"])

    assert not Contact.objects.exclude(wecom_external_userid="").exists()
    assert set(UnlinkedMember.objects.active().filter(group=group).values_list("userid", flat=True)) == {
        "wmTwin",
        "wmFar",
    }


# --- by hand ------------------------------------------------------------------------------


@pytest.fixture
def unlinked(corp):
    group = synced_group(corp, [{"userid": "wmWang", "name": "王先生", "join_time": 1_700_000_000}])
    return UnlinkedMember.objects.get(group=group, userid="wmWang")


def link_url(member) -> str:
    return reverse("groups:unlinked_member_link", args=[member.group_id, member.pk])


def test_the_group_page_lists_unlinked_members(login, manager, unlinked):
    html = login(manager).get(reverse("groups:detail", args=[unlinked.group_id])).content.decode()
    assert "未关联成员（1）" in html and "王先生" in html and link_url(unlinked) in html


def test_the_manager_finds_the_contact_and_links_it_in_every_group(
    login, manager, corp, unlinked, make_customer
):
    customer = make_customer(name="王大伟")
    contact = customer.contacts.get()
    other = synced_group(corp, ["wmWang"], name="另一个VIP群")
    client = login(manager)

    page = client.get(link_url(unlinked), {"q": customer.number})
    assert page.status_code == 200 and contact.mobile in page.content.decode()
    response = client.post(link_url(unlinked), {"contact": contact.pk})

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.wecom_external_userid == "wmWang"
    membership = Membership.objects.get(group=unlinked.group, contact=contact)
    assert membership.joined_at == unlinked.joined_at
    assert Membership.objects.active().filter(group=other, contact=contact).exists()
    assert not UnlinkedMember.objects.filter(userid="wmWang").exists()
    # The next sync keeps the link.
    chat_sync(chat_id=unlinked.group.external_id)
    assert Membership.objects.active().filter(group=unlinked.group, contact=contact).count() == 1


def test_bad_input_changes_nothing_and_the_valid_request_then_works(login, manager, unlinked, make_customer):
    contact = make_customer().contacts.get()
    client = login(manager)

    for bad in ({}, {"contact": "abc"}, {"contact": "-1"}, {"contact": "99999999999999999999999"}):
        response = client.post(link_url(unlinked), bad)
        assert response.status_code == 400
        assert "请选择要关联的联系人。" in response.content.decode()
    assert not Contact.objects.exclude(wecom_external_userid="").exists()

    assert client.post(link_url(unlinked), {"contact": contact.pk}).status_code == 302


def test_a_contact_already_linked_elsewhere_is_refused(login, manager, unlinked, make_customer):
    contact = make_customer().contacts.get()
    contact.wecom_external_userid = "wmSomeoneElse"
    contact.save()

    response = login(manager).post(link_url(unlinked), {"contact": contact.pk})

    assert response.status_code == 400
    assert "该联系人已关联其他企业微信客户。" in response.content.decode()
    assert UnlinkedMember.objects.active().filter(pk=unlinked.pk).exists()


def test_a_contact_out_of_scope_is_404_and_the_search_never_shows_it(login, manager, unlinked, org_tree):
    far = ContactFactory(customer=CustomerFactory(station=org_tree["other_station"], name="凯里客户"))
    client = login(manager)

    assert client.post(link_url(unlinked), {"contact": far.pk}).status_code == 404
    assert client.get(link_url(unlinked), {"q": "凯里客户"}).context["candidates"].contacts == []
    far.refresh_from_db()
    assert far.wecom_external_userid == ""


def test_outsiders_get_404_and_colleagues_who_do_not_manage_get_403(
    login, outsider, colleague, unlinked, make_customer
):
    contact = make_customer().contacts.get()
    assert login(outsider).get(link_url(unlinked)).status_code == 404
    assert login(outsider).post(link_url(unlinked), {"contact": contact.pk}).status_code == 404
    assert login(colleague).post(link_url(unlinked), {"contact": contact.pk}).status_code == 403
    assert UnlinkedMember.objects.active().filter(pk=unlinked.pk).exists()


def test_the_link_page_costs_a_fixed_number_of_queries(
    login, manager, unlinked, make_customer, django_assert_max_num_queries
):
    for _ in range(15):
        make_customer(name="王家", contacts=2)
    client = login(manager)
    # Session, user, unread count, group, member, search, contacts with customers, layout.
    with django_assert_max_num_queries(10):
        response = client.get(link_url(unlinked), {"q": "王家"})
    assert response.content.decode().count('name="contact"') == 30
