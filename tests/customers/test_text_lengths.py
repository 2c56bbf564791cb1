"""Text fields have a length: an over-long note is refused on the page with a field error,
nothing is written, and stored rows over a limit are reported, never cut."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from core.text import TEXT_LENGTH
from customers.interactions.services import interaction_log
from customers.models import Customer, Interaction
from tests.customers.test_history import edit_data


def test_an_over_long_note_is_refused_on_the_edit_page(login, manager, mine):
    client = login(manager)

    response = client.post(
        reverse("customers:edit", args=[mine.number]), edit_data(mine, notes="长" * 100_000)
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert f"不超过 {TEXT_LENGTH} 字符" in page
    assert Customer.objects.get(pk=mine.pk).notes == mine.notes
    ok = client.post(reverse("customers:edit", args=[mine.number]), edit_data(mine, notes="长" * TEXT_LENGTH))
    assert ok.status_code == 302


def test_a_service_that_cleans_the_model_refuses_it_too(manager, mine):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        interaction_log(
            customer=mine,
            staff=manager,
            channel=Interaction.Channel.PHONE,
            occurred_at=timezone.now(),
            summary="长" * (TEXT_LENGTH + 1),
        )

    assert "summary" in refused.value.message_dict
    assert not Interaction.objects.exists()


def test_the_data_check_reports_rows_over_their_limit_and_changes_nothing(mine, capsys):
    call_command("check_text_lengths")
    assert "within its limit" in capsys.readouterr().out

    Customer.all_objects.filter(pk=mine.pk).update(notes="长" * (TEXT_LENGTH + 5))
    with pytest.raises(CommandError, match="1 stored text"):
        call_command("check_text_lengths")

    out = capsys.readouterr().out
    assert f"customers.Customer.notes: 1 row(s) over {TEXT_LENGTH} characters (ids {mine.pk})" in out
    assert len(Customer.all_objects.get(pk=mine.pk).notes) == TEXT_LENGTH + 5


def test_the_archive_services_run_the_text_rule_without_a_form(manager, mine):
    from django.core.exceptions import ValidationError

    from customers.services import contact_create, customer_update

    with pytest.raises(ValidationError) as refused:
        customer_update(customer=mine, updated_by=manager, name="a\x07\x1b[31mb", notes="第一行\n第二行")
    assert set(refused.value.message_dict) == {"name"}
    with pytest.raises(ValidationError) as refused:
        contact_create(customer=mine, user=manager, name="王\x00五", mobile="13885550009")
    assert set(refused.value.message_dict) == {"name"}

    stored = Customer.objects.get(pk=mine.pk)
    assert (stored.name, stored.notes, stored.contacts.filter(mobile="13885550009").exists()) == (
        mine.name,
        mine.notes,
        False,
    )
