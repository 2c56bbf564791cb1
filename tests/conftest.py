"""Shared personas (ARCHITECTURE.md, Tests).

The org tree: 贵州省公司 → 黔东南供电局 → 雷山县供电局 → 雷山供电所 / 丹江供电所,
and a second county 凯里市供电局 → 凯里供电所 where the outsider works.
"""

import pytest
from django.conf import settings

from accounts.models import OrgUnit, User
from accounts.scoping import subtree_unit_ids
from notifications import services as notification_services
from tests.factories import OrgUnitFactory, UserFactory
from tests.wecom.conftest import wecom_sandbox  # noqa: F401 - every test folder may use it

# Each test process keeps its cache in memory: the shared cache (Redis or files
# under var/) would carry throttle counters and dashboards from one run into
# the next. tests/core/test_cache.py exercises the shared backend itself.
settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: what one test's pages cached (dashboard figures,
    the groups' owner table) must not show in the next one's, whose rows may reuse the ids."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The personas get passwords; the default PBKDF2 rounds would dominate the suite's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def default_language():
    """A request in English (LocaleMiddleware) leaves English active in the thread; each
    test starts and ends in the default language, whatever the one before it asked for."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def real_kick():
    """Requested by tests that let `kick_delivery` talk to a broker for real."""


@pytest.fixture(autouse=True)
def kicks(request, monkeypatch) -> list:
    """Record delivery kicks instead of publishing them (unless `real_kick` is requested),
    so that no test leaves messages in a shared broker."""
    calls: list = []
    if "real_kick" not in request.fixturenames:
        monkeypatch.setattr(notification_services, "_publish_kick", lambda: calls.append("kick"))
    return calls


@pytest.fixture
def org_tree(db) -> dict[str, OrgUnit]:
    province = OrgUnitFactory(code="GZ", name="贵州省电力公司", level=OrgUnit.Level.PROVINCE)
    prefecture = OrgUnitFactory(
        code="QDN", name="黔东南供电局", level=OrgUnit.Level.PREFECTURE, parent=province
    )
    county = OrgUnitFactory(code="LSX", name="雷山县供电局", level=OrgUnit.Level.COUNTY, parent=prefecture)
    station = OrgUnitFactory(code="LS01", name="雷山供电所", level=OrgUnit.Level.STATION, parent=county)
    sibling_station = OrgUnitFactory(
        code="LS02", name="丹江供电所", level=OrgUnit.Level.STATION, parent=county
    )
    other_county = OrgUnitFactory(
        code="KLS", name="凯里市供电局", level=OrgUnit.Level.COUNTY, parent=prefecture
    )
    other_station = OrgUnitFactory(
        code="KL01", name="凯里供电所", level=OrgUnit.Level.STATION, parent=other_county
    )
    return {
        "province": province,
        "prefecture": prefecture,
        "county": county,
        "station": station,
        "sibling_station": sibling_station,
        "other_county": other_county,
        "other_station": other_station,
    }


@pytest.fixture
def manager(org_tree) -> User:
    """A station account manager who owns customers."""
    return UserFactory(
        username="zhangsan", real_name="张三", mobile="13595561359", org_unit=org_tree["station"]
    )


@pytest.fixture
def colleague(org_tree) -> User:
    """Another account manager in the same station."""
    return UserFactory(username="lisi", real_name="李四", mobile="13595562468", org_unit=org_tree["station"])


@pytest.fixture
def supervisor(org_tree) -> User:
    """The county's monitoring supervisor: sees every station of the county."""
    return UserFactory(
        username="wangwu",
        real_name="王五",
        mobile="13595563579",
        org_unit=org_tree["county"],
        role=User.Role.SUPERVISOR,
    )


@pytest.fixture
def people(org_tree, supervisor, manager) -> dict[str, User]:
    """One user of each way of seeing the archive and the orders, by name: an account
    manager, and supervisors of a station, the county and the prefecture. A module that
    plays more (an admin, an integration) extends it with a `people` fixture of its own."""
    return {
        "manager": manager,
        "station_supervisor": UserFactory(
            username="st-sup", org_unit=org_tree["station"], role=User.Role.SUPERVISOR
        ),
        "county_supervisor": supervisor,
        "prefecture_supervisor": UserFactory(
            username="pf-sup", org_unit=org_tree["prefecture"], role=User.Role.SUPERVISOR
        ),
    }


@pytest.fixture
def outsider(org_tree) -> User:
    """An account manager in another county: sees none of 雷山's customers."""
    return UserFactory(
        username="zhaoliu", real_name="赵六", mobile="13595564680", org_unit=org_tree["other_station"]
    )


@pytest.fixture
def admin_user(org_tree) -> User:
    return UserFactory(
        username="admin",
        real_name="系统管理员",
        org_unit=org_tree["province"],
        role=User.Role.ADMINISTRATOR,
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def login(client):
    """login(user) -> the test client, signed in as that user."""

    def _login(user: User):
        client.force_login(user)
        if user.sees_subtree and user.org_unit_id:
            # As after a first request: the scope's unit ids are in the shared cache
            # (accounts.scoping), so query counts are those of the steady state. The
            # one query of a cold lookup is counted in tests/accounts/test_scope_first.py.
            subtree_unit_ids(User.objects.get(pk=user.pk))
        return client

    return _login


@pytest.fixture(autouse=True)
def no_sync_exits_left_by_a_flush(request):
    """SQLite empties tables between transactional tests with DELETE FROM, which fires the sync
    feed's hard-delete trigger (customers.sync_triggers): the flush is not a business delete, so
    the tombstones it leaves are removed before the next test (PostgreSQL's TRUNCATE fires none)."""
    if "_django_db_helper" in request.fixturenames:
        request.getfixturevalue("_django_db_helper")
        from django.db import connection

        if connection.vendor == "sqlite":
            from customers.models import CustomerSyncExit

            CustomerSyncExit.objects.all().delete()
