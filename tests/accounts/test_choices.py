"""The one ladder every choice list climbs: nobody, everything, nothing without a unit, the subtree."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from accounts.choices import (
    account_managers_for,
    active_staff,
    stations_for,
    units_for,
    within_reach,
)
from accounts.models import OrgUnit, User
from tests.factories import UserFactory


def codes(user) -> list[str]:
    return [unit.code for unit in within_reach(OrgUnit.objects.order_by("path"), user, unit_path="path")]


def test_nobody_signed_in_and_an_inactive_account_choose_nothing(org_tree, manager):
    assert codes(AnonymousUser()) == []
    assert codes(None) == []
    manager.is_active = False
    assert codes(manager) == []


def test_an_administrator_chooses_everything(org_tree, admin_user):
    assert set(codes(admin_user)) == {unit.code for unit in org_tree.values()}


def test_a_user_without_a_unit_chooses_nothing(org_tree):
    assert codes(UserFactory(org_unit=None)) == []
    assert codes(UserFactory(org_unit=None, role=User.Role.SUPERVISOR)) == []


def test_a_supervisor_chooses_within_their_subtree(org_tree, supervisor):
    assert codes(supervisor) == ["LSX", "LS01", "LS02"]


def test_an_account_manager_chooses_within_their_unit(org_tree, manager, outsider):
    assert codes(manager) == ["LS01"]
    assert codes(outsider) == ["KL01"]


def test_own_narrows_only_those_who_do_not_supervise(org_tree, manager, colleague, supervisor, admin_user):
    def owners(user) -> set[str]:
        staff = within_reach(active_staff(), user, unit_path="org_unit__path", own=lambda me: Q(pk=me.pk))
        return {person.username for person in staff}

    assert owners(manager) == {"zhangsan"}
    assert owners(supervisor) == {"zhangsan", "lisi", "wangwu"}
    assert owners(admin_user) == {"zhangsan", "lisi", "wangwu", "admin"}
    assert owners(AnonymousUser()) == set()


def test_the_kinds_of_choices_climb_the_same_ladder(org_tree, manager, colleague, supervisor, outsider):
    assert [unit.code for unit in units_for(supervisor)] == ["LSX", "LS01", "LS02"]
    assert [unit.code for unit in stations_for(supervisor)] == ["LS01", "LS02"]
    assert {person.username for person in account_managers_for(supervisor)} == {"zhangsan", "lisi"}
    assert {person.username for person in account_managers_for(outsider)} == {"zhaoliu"}
