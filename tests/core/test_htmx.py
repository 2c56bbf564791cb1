"""Telling an htmx swap from a request for the whole page (core/htmx.py)."""

from django.test import RequestFactory

from core.htmx import is_htmx


def test_an_htmx_request_asks_for_a_fragment():
    assert is_htmx(RequestFactory().get("/tickets/", headers={"HX-Request": "true"})) is True


def test_a_plain_request_asks_for_the_whole_page():
    assert is_htmx(RequestFactory().get("/tickets/")) is False


def test_a_history_restore_asks_for_the_whole_page():
    request = RequestFactory().get(
        "/tickets/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )

    assert is_htmx(request) is False
