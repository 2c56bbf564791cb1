"""Helpers shared by the work-order page tests (imported by the test_pages_* modules)."""

import io
import re

import pytest
from PIL import Image

from tests.factories import CustomerFactory
from tickets import services


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The personas get passwords; the default hasher would dominate these tests' time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def foreign_customer(org_tree, outsider):
    """A customer of 凯里供电所, in the outsider's county."""
    return CustomerFactory(station=org_tree["other_station"], manager=outsider, name="凯里客户")


def open_signed(open_ticket, manager, **fields):
    """An order dispatched to the manager, who has signed for it."""
    return services.ticket_sign(ticket=open_ticket(**fields), by=manager)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(buffer, format="PNG")
    return buffer.getvalue()


def text(response) -> str:
    return response.content.decode()


def listed_numbers(response) -> list[str]:
    """The order numbers of the list's rows, in the order shown."""
    return re.findall(r'data-ticket="([^"]+)"', text(response))


def shown_actions(response) -> set[str]:
    """The step forms the order's page offers."""
    return set(re.findall(r'data-ticket-action="([^"]+)"', text(response)))


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
