"""The contact log (联系记录): the service's rules, the quick form, scoping."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from customers.interactions.services import interaction_log, interaction_suggests_ticket
from customers.models import Interaction
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy


def _log(customer, staff, **fields):
    values = {
        "channel": Interaction.Channel.PHONE,
        "direction": Interaction.Direction.OUTBOUND,
        "occurred_at": timezone.now() - timedelta(hours=1),
        "summary": "电话回访，客户反映电压偏低。",
    }
    values.update(fields)
    return interaction_log(customer=customer, staff=staff, **values)


def test_it_logs_a_contact_with_the_seven_steps(mine, manager):
    seed_default_policies(SlaPolicy)
    ticket, _created = ticket_services.ticket_create(
        customer=mine, opened_by=manager, kind=Kind.REPAIR, title="家中停电", description="无电。"
    )
    interaction = _log(mine, manager, step_find_cause=True, step_solution=True, ticket_number=ticket.number)

    stored = Interaction.objects.get(pk=interaction.pk)
    assert stored.staff == manager
    assert stored.created_by == manager
    assert stored.steps_done == ["找准原因", "给出方案"]
    assert stored.ticket_number == ticket.number


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"occurred_at": timezone.now() + timedelta(days=1)}, "occurred_at", "联系时间不能晚于当前时间。"),
        ({"summary": "   "}, "summary", "请填写联系内容。"),
        ({"channel": "pigeon"}, "channel", "pigeon"),
        (
            {"next_follow_up": (timezone.localdate() - timedelta(days=3))},
            "next_follow_up",
            "下次跟进日期不能早于联系日期。",
        ),
    ],
)
def test_it_rejects_bad_input_in_chinese_and_saves_nothing(mine, manager, fields, field, message):
    with pytest.raises(ValidationError) as caught:
        _log(mine, manager, **fields)

    assert field in caught.value.message_dict
    assert any(message in text for text in caught.value.message_dict[field])
    assert not Interaction.objects.exists()
    _log(mine, manager)
    assert Interaction.objects.count() == 1


def test_an_angry_sensitive_customer_suggests_a_work_order(mine, colleagues, manager, colleague):
    assert interaction_suggests_ticket(_log(mine, manager, mood=Interaction.Mood.ANGRY))
    assert not interaction_suggests_ticket(_log(mine, manager, mood=Interaction.Mood.DISSATISFIED))
    assert not interaction_suggests_ticket(_log(colleagues, colleague, mood=Interaction.Mood.ANGRY))


def _form_data(**overrides):
    data = {
        "channel": "wechat_private",
        "direction": "inbound",
        "occurred_at": timezone.localtime(timezone.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
        "mood": "angry",
        "summary": "客户微信私聊投诉停电时间过长。",
        "step_listen": "on",
    }
    data.update(overrides)
    return data


def test_a_manager_logs_a_contact_from_the_360_page_and_gets_the_work_order_hint(login, mine, manager):
    client = login(manager)
    url = reverse("customers:interaction_create", args=[mine.number])
    assert client.get(url).status_code == 200

    response = client.post(url, _form_data(), follow=True)

    assert response.redirect_chain[-1][0] == reverse("customers:detail", args=[mine.number])
    interaction = Interaction.objects.get()
    assert interaction.customer == mine
    assert interaction.step_listen and not interaction.step_solution
    page = response.content.decode()
    assert "联系记录已保存" in page
    assert "建议立即创建工单" in page


def test_the_form_shows_errors_and_saves_nothing(login, mine, manager):
    client = login(manager)
    url = reverse("customers:interaction_create", args=[mine.number])
    future = timezone.localtime(timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(url, _form_data(occurred_at=future, summary=""))

    assert response.status_code == 200
    page = response.content.decode()
    assert "联系时间不能晚于当前时间。" in page or "请填写联系内容。" in page
    assert not Interaction.objects.exists()


def test_the_quick_form_picks_the_customer_by_number(login, mine, manager):
    client = login(manager)
    url = reverse("customers:interaction_quick_create")
    assert "记录联系" in client.get(reverse("customers:list")).content.decode()

    response = client.post(url, _form_data(customer=mine.number, mood="calm"))

    assert response.status_code == 302
    assert Interaction.objects.get().customer == mine


def test_the_quick_form_hides_other_units_customers(login, foreign, manager):
    client = login(manager)

    response = client.post(reverse("customers:interaction_quick_create"), _form_data(customer=foreign.number))

    assert response.status_code == 200
    assert "或您无权查看" in response.content.decode()
    assert not Interaction.objects.exists()


def test_an_outsider_gets_404_on_the_form(login, mine, outsider):
    client = login(outsider)
    url = reverse("customers:interaction_create", args=[mine.number])

    assert client.get(url).status_code == 404
    assert client.post(url, _form_data()).status_code == 404
    assert (
        client.get(reverse("customers:interaction_quick_create"), {"customer": mine.number}).status_code
        == 302
    )
    assert not Interaction.objects.exists()


def test_interactions_are_scoped_through_their_customer(mine, manager, colleague, supervisor, outsider):
    _log(mine, manager)

    assert Interaction.objects.visible_to(manager).count() == 1
    assert Interaction.objects.visible_to(colleague).count() == 1  # same station
    assert Interaction.objects.visible_to(supervisor).count() == 1
    assert Interaction.objects.visible_to(outsider).count() == 0
