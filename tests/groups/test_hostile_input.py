"""Hostile input on the group pages: a Chinese message or a harmless page, never a 500."""

import pytest
from django.urls import reverse

from tests.groups.test_ticket_from_message import complaint  # noqa: F401
from tickets.models import Ticket

NOT_TEXT = "不能包含控制字符或无效字符（如 NUL、转义符或不成对的代理字符）。"


@pytest.mark.parametrize("page", ["groups:list", "groups:templates", "groups:template_search"])
@pytest.mark.parametrize("q", ["%00", "a%00b", "a%1B[31m", "%ED%A0%80", "%FF"])
def test_a_search_that_is_not_text_shows_the_page(login, manager, group, page, q):
    response = login(manager).get(f"{reverse(page)}?q={q}")

    assert response.status_code == 200


@pytest.mark.parametrize("param", ["page", "after", "before"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64), "9" * 40, "-" + "9" * 40])
def test_page_numbers_beyond_a_bigint_show_a_page(login, manager, group, param, value):
    for page in ("groups:list", "groups:templates", "groups:broadcasts"):
        assert login(manager).get(reverse(page), {param: value}).status_code == 200, page


@pytest.mark.parametrize("field", ["title", "kind", "category"])
def test_nul_in_the_order_from_a_message_is_refused_in_chinese(login, complaint, manager, field):  # noqa: F811
    values = {"kind": "complaint", "category": "outage", "title": "停电投诉"}
    values[field] = values[field] + "\x00"

    response = login(manager).post(reverse("tickets:from_group_message", args=[complaint.pk]), values)

    assert response.status_code == 400
    assert Ticket.objects.count() == 0
    if field == "title":
        assert NOT_TEXT in response.content.decode()
