"""The supervisors' table of account managers on the group list (hundreds of rows for a
prefecture) is computed once per scope and language and kept GROUPS_OWNER_TABLE_SECONDS: the
page says when it was computed, shows the same rows as a fresh computation, and never shows
one scope's table to a user of another."""

from datetime import timedelta

import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from groups.models import GroupKind
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.services.messages import message_post
from tests.factories import UserFactory
from tests.groups.conftest import local

NOW = local(2026, 11, 20, 15, 0)


def _owner_rows(response) -> str:
    html = response.content.decode()
    start = html.index('<table class="table table-sm mb-0 align-middle owner-health')
    return html[start : html.index("</table>", start)]


def _asked(group, contact, text="请问什么时候来电？"):
    message_post(group=group, contact=contact, text=text)


def test_the_table_is_computed_once_per_period_and_says_when(
    login, supervisor, manager, make_customer, settings
):
    group = group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    contact = make_customer().contacts.get()
    membership_add_contact(group=group, contact=contact, by=manager)
    client = login(supervisor)
    with time_machine.travel(NOW, tick=False):
        _asked(group, contact)
        with CaptureQueriesContext(connection) as first_queries:
            first = client.get(reverse("groups:list"))
        with CaptureQueriesContext(connection) as second_queries:
            second = client.get(reverse("groups:list"))
        assert "数据时间 2026-11-20 15:00:00" in first.content.decode()
        assert _owner_rows(first) == _owner_rows(second)
        # The owner figures and their users are read once.
        assert len(second_queries) == len(first_queries) - 2

        # A new inquiry shows once the period is over, not before.
        _asked(group, contact, "还停多久？")
        waiting = lambda response: _owner_rows(response).split('data-label="待回复">')[1].split("<")[0]  # noqa: E731
        assert waiting(client.get(reverse("groups:list"))) == "1"
    later = NOW + timedelta(seconds=settings.GROUPS_OWNER_TABLE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        fresh = client.get(reverse("groups:list"))
        assert waiting(fresh) == "2"
        assert "数据时间 2026-11-20 15:01:01" in fresh.content.decode()
        cache.clear()
        assert _owner_rows(client.get(reverse("groups:list"))) == _owner_rows(fresh)


def test_a_supervisor_of_another_county_never_sees_the_table_of_this_one(
    login, supervisor, manager, outsider, org_tree, make_customer
):
    group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    group_create(by=outsider, name="凯里VIP群", kind=GroupKind.VIP, rules="x")
    other = UserFactory(username="kaili-sup", org_unit=org_tree["other_county"], role=User.Role.SUPERVISOR)
    here = _owner_rows(login(supervisor).get(reverse("groups:list")))
    there = _owner_rows(login(other).get(reverse("groups:list")))
    assert f'data-owner="{manager.pk}"' in here and f'data-owner="{outsider.pk}"' not in here
    assert f'data-owner="{outsider.pk}"' in there and f'data-owner="{manager.pk}"' not in there


def test_supervisors_of_one_unit_share_it_and_each_language_has_its_own(
    login, supervisor, manager, org_tree, make_customer
):
    group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    colleague = UserFactory(username="lsx-sup2", org_unit=org_tree["county"], role=User.Role.SUPERVISOR)
    login(supervisor).get(reverse("groups:list"))
    with CaptureQueriesContext(connection) as queries:
        shared = login(colleague).get(reverse("groups:list"))
    assert not any("WITH g AS" in query["sql"] for query in queries.captured_queries)
    assert 'data-label="群数">1<' in _owner_rows(shared)
    english = login(colleague).get(reverse("groups:list"), HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-label="Groups"' in _owner_rows(english) or "Data as of" in english.content.decode()
    assert "数据时间" not in english.content.decode()


def test_an_account_manager_has_no_table_and_computes_none(login, manager, make_customer):
    group_create(by=manager, name="VIP群", kind=GroupKind.VIP, rules="x")
    with CaptureQueriesContext(connection) as queries:
        page = login(manager).get(reverse("groups:list")).content.decode()
    assert "owner-health" not in page
    assert not any("WITH g AS" in query["sql"] for query in queries.captured_queries)
