"""Hostile input on the archive's pages: a Chinese message or a harmless page, never a 500."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Visit
from customers.visits.services import visit_schedule

NOT_TEXT = "不能包含控制字符或无效字符（如 NUL、转义符或不成对的代理字符）。"


@pytest.fixture
def visit(mine, manager) -> Visit:
    return visit_schedule(
        customer=mine,
        staff=manager,
        created_by=manager,
        purpose=Visit.Purpose.COMPLAINT_FOLLOW_UP,
        scheduled_at=timezone.now() + timedelta(hours=2),
    )


def stored(visit: Visit) -> tuple:
    row = Visit.objects.get(pk=visit.pk)
    return row.prep_cause, row.prep_solution, row.outcome, row.done_at


@pytest.mark.parametrize("field", ["prep_cause", "prep_solution"])
def test_nul_in_a_visit_preparation_is_refused_in_chinese(login, manager, visit, field):
    before = stored(visit)

    response = login(manager).post(
        reverse("customers:visit_prepare", args=[visit.pk]), {field: "核实\x00地址"}, follow=True
    )

    assert response.status_code == 200
    assert NOT_TEXT in response.content.decode()
    assert stored(visit) == before


def test_nul_in_a_visit_outcome_is_refused_in_chinese(login, manager, visit):
    before = stored(visit)

    response = login(manager).post(
        reverse("customers:visit_complete", args=[visit.pk]), {"outcome": "完毕\x00\x1b[0m"}, follow=True
    )

    assert response.status_code == 200
    assert NOT_TEXT in response.content.decode()
    assert stored(visit) == before
    login(manager).post(reverse("customers:visit_complete", args=[visit.pk]), {"outcome": "现场核实完毕"})
    assert Visit.objects.get(pk=visit.pk).done_at is not None


@pytest.mark.parametrize("number", ["../../admin/", "a/b", "\x00", "a\x1b[31m"])
def test_a_customer_number_that_names_no_page_is_not_a_500(login, manager, mine, number):
    response = login(manager).get(reverse("customers:interaction_quick_create"), {"customer": number})

    assert response.status_code == 404


def test_a_customer_number_from_the_quick_form_still_opens_the_log(login, manager, mine):
    response = login(manager).get(reverse("customers:interaction_quick_create"), {"customer": mine.number})

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:interaction_create", args=[mine.number])


def test_a_customer_name_with_escapes_is_refused_on_the_form(login, manager, mine):
    response = login(manager).post(
        reverse("customers:edit", args=[mine.number]), {"name": "a\x01\x07\x1b[31mb"}
    )

    assert response.status_code in (200, 400)
    assert NOT_TEXT in response.content.decode()
    assert Customer.objects.get(pk=mine.pk).name == mine.name


@pytest.mark.parametrize("param", ["after", "before", "page"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "9" * 40, "-" + "9" * 40])
def test_cursors_beyond_a_bigint_show_a_page(login, manager, mine, param, value):
    response = login(manager).get(reverse("customers:list"), {param: value})

    assert response.status_code == 200


@pytest.mark.parametrize("q", ["%00", "a%1B[31m", "%ED%A0%80"])
def test_a_search_that_is_not_text_shows_the_list(login, manager, mine, q):
    response = login(manager).get(f"{reverse('customers:list')}?q={q}")

    assert response.status_code == 200
