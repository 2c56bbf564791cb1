"""Answers that carry personal data are never stored by a browser or a proxy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import CustomerFactory
from tests.tickets.test_pages_support import png_bytes
from tickets import services
from tickets.models import Kind


def assert_not_stored(response):
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= directives, response["Cache-Control"]


@pytest.fixture
def customer(org_tree, manager):
    return CustomerFactory(station=org_tree["station"], manager=manager, name="杨丽")


def test_a_page_for_a_signed_in_user(login, manager, customer):
    response = login(manager).get(reverse("customers:list"))
    assert response.status_code == 200 and "杨丽" in response.content.decode()
    assert_not_stored(response)


def test_the_customer_and_dashboard_exports(login, manager, supervisor, customer):
    response = login(manager).get(reverse("customers:export"))
    assert response.status_code == 200
    assert_not_stored(response)
    response = login(supervisor).get(reverse("dashboard_export"))
    assert response.status_code == 200
    assert_not_stored(response)


def test_an_attachment_download(login, manager, customer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    ticket, _created = services.ticket_create(
        customer=customer,
        opened_by=manager,
        kind=Kind.REPAIR,
        title="家中停电",
        description="无电",
        assignee=manager,
    )
    attachment = services.attachment_add(
        ticket=ticket, by=manager, upload=SimpleUploadedFile("a.png", png_bytes())
    )
    response = login(manager).get(reverse("tickets:attachment", args=[ticket.number, attachment.pk]))
    assert response.status_code == 200
    assert_not_stored(response)


def test_an_api_answer_to_a_token(manager, customer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")
    response = client.get("/api/v1/customers/")
    assert response.status_code == 200
    assert_not_stored(response)


def test_an_anonymous_health_check_keeps_its_own_headers(client, db):
    response = client.get(reverse("healthz"))
    assert "no-store" in response["Cache-Control"]  # never_cache's own
    assert "Cookie" not in response.get("Vary", "")
