"""get_FOO_display() answers from a label table per field and language, as Django would."""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import translation

from core.choices import ChoiceLabels
from tickets.models import Kind, Status, Ticket


def project_models_with_choices():
    for model in apps.get_models():
        if not issubclass(model, ChoiceLabels):
            continue
        for field in model._meta.concrete_fields:
            if field.choices:
                yield model, field


def test_every_model_of_the_project_with_choices_takes_the_table():
    # The project's own models, not those of Django or a library, nor the history copies.
    project = [
        model
        for model in apps.get_models()
        if (settings.BASE_DIR / model._meta.app_config.label).is_dir()
        and not model.__name__.startswith("Historical")
    ]
    with_choices = {
        model._meta.label for model in project if any(field.choices for field in model._meta.concrete_fields)
    }
    assert "tickets.Ticket" in with_choices
    taking = {model._meta.label for model, _field in project_models_with_choices()}
    assert with_choices - taking == set()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_label_is_the_one_django_gives_in_each_language(language):
    with translation.override(language):
        for model, field in project_models_with_choices():
            instance = model()
            for value, _label in field.flatchoices:
                setattr(instance, field.attname, value)
                ours = getattr(instance, f"get_{field.name}_display")()
                django = models.Model._get_FIELD_display(instance, field)
                assert ours == django, (model, field.name, value)
            # A value outside the choices shows as itself, as Django shows it.
            outside = "no-such-value" if field.get_internal_type() == "CharField" else 999
            setattr(instance, field.attname, outside)
            assert getattr(instance, f"get_{field.name}_display")() == models.Model._get_FIELD_display(
                instance, field
            )


def test_the_language_active_at_the_call_decides_the_label():
    ticket = Ticket(status=Status.SIGNED, kind=Kind.COMPLAINT)
    with translation.override("zh-hans"):
        chinese = ticket.get_status_display()
    with translation.override("en"):
        english = ticket.get_status_display()
    assert chinese == str(Status.SIGNED.label) == "已签收"
    assert english != chinese and english == "Signed for"
    with translation.override("zh-hans"):
        assert ticket.get_status_display() == chinese


def test_a_label_is_translated_once_per_language_not_once_per_call(monkeypatch):
    calls = []
    real = translation._trans.gettext

    def counting(message):
        calls.append(message)
        return real(message)

    monkeypatch.setattr(translation._trans, "gettext", counting)
    tickets = [Ticket(status=status) for status in Status.values] * 20
    with translation.override("en"):
        labels = [ticket.get_status_display() for ticket in tickets]
    assert len(set(labels)) == len(Status.values)
    # Django's own way translates every label of the field at each call.
    assert len(calls) <= len(Status.values)
