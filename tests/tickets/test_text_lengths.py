"""Over-long texts on the work-order pages: a field error in Chinese, nothing written."""

from core.text import NOTE_LENGTH, TEXT_LENGTH
from tests.tickets.test_pages_actions import post, snapshot
from tests.tickets.test_pages_support import fast_password_hashing, open_signed  # noqa: F401
from tickets.models import Ticket


def test_an_over_long_urge_note_is_refused(login, supervisor, open_ticket):
    ticket = open_ticket()
    before = snapshot(ticket)

    response = post(login(supervisor), ticket, "urge", {"note": "催" * (NOTE_LENGTH + 1)})

    assert f"不超过 {NOTE_LENGTH} 字符" in response.content.decode()
    assert snapshot(ticket) == before


def test_an_over_long_resolution_is_refused(login, manager, open_ticket):
    ticket = open_signed(open_ticket, manager)
    before = snapshot(ticket)

    response = post(
        login(manager),
        ticket,
        "resolve",
        {"resolution_kind": "direct", "resolution": "修" * (TEXT_LENGTH + 1)},
    )

    assert f"不超过 {TEXT_LENGTH} 字符" in response.content.decode()
    assert snapshot(ticket) == before
    assert Ticket.objects.get(pk=ticket.pk).resolution == ""
