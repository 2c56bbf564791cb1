"""Every page of the main navigation renders in English with no Chinese left over.

The personas here have Latin names and units, so any Chinese character on an
English page is an interface string without a translation (or one that is
not marked for translation at all). The language switch's own option
"简体中文" is the one exception.
"""

import re

import pytest
from django.urls import reverse

from accounts.models import OrgUnit, User
from tests.factories import OrgUnitFactory, UserFactory

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
LANGUAGE_OPTION = "简体中文"

MANAGER_PAGES = [
    "home",
    "customers:list",
    "customers:create",
    "customers:interaction_quick_create",
    "customers:visit_planner",
    "tickets:list",
    "groups:list",
    "notifications:inbox",
    "accounts:password_change",
]
SUPERVISOR_PAGES = ["dashboard", "tickets:list", "groups:list", "customers:list"]


@pytest.fixture
def latin_tree(db):
    county = OrgUnitFactory(code="LCX", name="Leishan County", level=OrgUnit.Level.COUNTY)
    station = OrgUnitFactory(code="LC01", name="Leishan Station", level=OrgUnit.Level.STATION, parent=county)
    return county, station


def english_page(client, user, name: str) -> str:
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, f"{name} answered {response.status_code}"
    return response.content.decode().replace(LANGUAGE_OPTION, "")


def leftovers(html: str) -> list[str]:
    return sorted(set(CJK.findall(html)))


@pytest.mark.parametrize("name", MANAGER_PAGES)
def test_an_account_managers_pages_are_fully_english(client, latin_tree, name):
    manager = UserFactory(username="zs", real_name="Zhang San", org_unit=latin_tree[1])
    assert leftovers(english_page(client, manager, name)) == []


@pytest.mark.parametrize("name", SUPERVISOR_PAGES)
def test_a_supervisors_pages_are_fully_english(client, latin_tree, name):
    supervisor = UserFactory(
        username="ww", real_name="Wang Wu", org_unit=latin_tree[0], role=User.Role.SUPERVISOR
    )
    assert leftovers(english_page(client, supervisor, name)) == []
