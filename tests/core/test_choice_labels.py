"""Choice labels from core.choices' table are what Django's get_FOO_display() shows: for every
field with choices of every model of the project, every value, both languages, whichever
language was shown first, and a value without a label."""

import pytest
from django.apps import apps
from django.template import Context, Template
from django.utils import translation
from django.utils.html import escape

from core.choices import choice_label

PROJECT_APPS = {
    "accounts",
    "core",
    "customers",
    "groups",
    "notifications",
    "outages",
    "reach",
    "tickets",
    "wecom",
    "workspace",
}


def fields_with_choices():
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for field in model._meta.concrete_fields:
            if field.choices and not field.is_relation:
                yield pytest.param(model, field, id=f"{model._meta.label}.{field.name}")


FIELDS = list(fields_with_choices())


def test_the_project_has_fields_with_choices():
    assert len(FIELDS) > 20


@pytest.mark.parametrize(("model", "field"), FIELDS)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_label_is_get_display(model, field, language):
    other = "en" if language == "zh-hans" else "zh-hans"
    values = [value for value, _label in field.flatchoices]
    with translation.override(other):
        choice_label(model(**{field.attname: values[0]}), field.name)
    with translation.override(language):
        for value in [*values, "odd<&>"]:
            row = model(**{field.attname: value})
            assert choice_label(row, field.name) == row._get_FIELD_display(field)


def test_the_filter_escapes_and_shows_nothing_for_no_row():
    from tickets.models import Kind, Ticket

    template = Template('{% load rows %}{{ row|label:"kind" }}')
    with translation.override("zh-hans"):
        assert template.render(Context({"row": Ticket(kind=Kind.COMPLAINT)})) == str(Kind.COMPLAINT.label)
        assert template.render(Context({"row": Ticket(kind="odd<&>")})) == escape("odd<&>")
        assert template.render(Context({"row": None})) == ""
        assert template.render(Context({})) == ""
