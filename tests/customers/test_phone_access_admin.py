"""Administrators review integration accounts' full-phone reads in the admin: read-only, filtered."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.models import PhoneAccessLog
from customers.phone_access import phone_reads_record
from tests.factories import UserFactory

CHANGELIST = "admin:customers_phoneaccesslog_changelist"


@pytest.fixture
def systems(org_tree) -> tuple[User, User]:
    return (
        UserFactory(username="sys95598", org_unit=org_tree["county"], role=User.Role.INTEGRATION),
        UserFactory(username="sysmkt", org_unit=org_tree["county"], role=User.Role.INTEGRATION),
    )


@pytest.fixture
def logs(systems) -> list[PhoneAccessLog]:
    call, marketing = systems
    return [
        phone_reads_record(
            user=call, endpoint="GET /api/v1/customers/", numbers=["5201000001", "5201000002"]
        ),
        phone_reads_record(user=marketing, endpoint="GET /api/v1/customers/sync/", numbers=["5209000001"]),
    ]


def listed(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def test_it_lists_searches_by_customer_number_and_filters_by_account_and_date(
    login, admin_user, logs, systems
):
    client = login(admin_user)
    url = reverse(CHANGELIST)

    assert listed(client.get(url)) == {log.pk for log in logs}
    assert listed(client.get(url, {"q": "5201000002"})) == {logs[0].pk}
    assert listed(client.get(url, {"user__id__exact": systems[1].pk})) == {logs[1].pk}
    today = timezone.localdate()
    by_day = {"at__year": today.year, "at__month": today.month, "at__day": today.day}
    assert listed(client.get(url, by_day)) == {log.pk for log in logs}


def test_it_is_read_only(login, admin_user, logs):
    client = login(admin_user)

    assert client.get(reverse("admin:customers_phoneaccesslog_add")).status_code == 403
    detail = client.get(reverse("admin:customers_phoneaccesslog_change", args=[logs[0].pk]))
    assert detail.status_code == 200
    assert client.post(reverse("admin:customers_phoneaccesslog_delete", args=[logs[0].pk])).status_code == 403
    assert PhoneAccessLog.objects.count() == 2


def test_nothing_is_recorded_for_an_account_manager(manager):
    assert phone_reads_record(user=manager, endpoint="GET /x/", numbers=["5201000001"]) is None
    assert not PhoneAccessLog.objects.exists()
