"""A soft-deleted archive can be restored by an administrator (the remedy the number check names)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from customers import services
from customers.models import Customer
from tests.api import conftest as api_fixtures
from tests.api.conftest import walk

api = api_fixtures.api
settled = api_fixtures.settled


@pytest.fixture
def deleted(mine, manager) -> Customer:
    return services.customer_soft_delete(customer=mine, user=manager)


def test_the_admin_lists_deleted_archives_and_restores_them_with_history(login, admin_user, deleted):
    versions = deleted.history.count()
    client = login(admin_user)
    changelist = reverse("admin:customers_customer_changelist")
    response = client.get(changelist, {"deleted": "yes"})
    assert list(response.context["cl"].result_list) == [deleted]

    response = client.post(changelist, {"action": "restore_archives", "_selected_action": [deleted.pk]})

    assert response.status_code == 302
    restored = Customer.objects.get(pk=deleted.pk)
    assert restored.deleted_at is None
    last = restored.history.first()
    assert last.history_user == admin_user
    assert last.deleted_at is None
    assert restored.history.count() == versions + 1
    assert client.get(changelist, {"deleted": "yes"}).context["cl"].result_list.count() == 0


def test_only_an_administrator_restores(manager, supervisor, deleted):
    for user in (manager, supervisor):
        with pytest.raises(PermissionDenied):
            services.customer_restore(customer=deleted, user=user)
    assert Customer.all_objects.get(pk=deleted.pk).deleted_at is not None


def test_restoring_a_live_archive_changes_nothing(admin_user, mine):
    versions = mine.history.count()

    services.customer_restore(customer=mine, user=admin_user)

    assert mine.history.count() == versions


@pytest.mark.django_db(transaction=True)
def test_a_restored_archive_comes_again_in_the_sync_feed(api, manager, admin_user, deleted, settled):
    client = api(manager)
    settled()
    rows, cursor = walk(client)
    assert {"number": deleted.number, "deleted": True} in rows

    services.customer_restore(customer=deleted, user=admin_user)
    settled()

    rows, _cursor = walk(client, cursor)
    assert [(row["number"], row["deleted"]) for row in rows] == [(deleted.number, False)]
