"""core.form_renderer writes selects and inputs character for character as Django's templates do."""

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from core.form_renderer import WidgetRenderer

TEMPLATES = DjangoTemplates()
FAST = WidgetRenderer()


class Everything(forms.Form):
    text = forms.CharField(max_length=20, help_text="说明")
    required_text = forms.CharField(
        required=True, widget=forms.TextInput(attrs={"placeholder": '"引号" & <尖括号>'})
    )
    number = forms.IntegerField(min_value=1, max_value=10_000, required=False)
    decimal = forms.DecimalField(required=False)
    email = forms.EmailField(required=False)
    url = forms.URLField(required=False, assume_scheme="https")
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    moment = forms.DateTimeField(required=False)
    time = forms.TimeField(required=False)
    hidden = forms.CharField(required=False, widget=forms.HiddenInput)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=True))
    flag = forms.BooleanField(required=False)
    choice = forms.ChoiceField(
        choices=[
            ("", "---------"),
            ("a", "甲 & <乙>"),
            (1, gettext_lazy("全部状态")),
            ("组", [("x", "X"), ("y", mark_safe("<b>Y</b>"))]),
            (gettext_lazy("城乡"), [("z", "Z")]),
        ],
        required=False,
        widget=forms.Select(attrs={"class": "form-select", "data-x": True, "data-off": False, "data-n": 3}),
    )
    many = forms.MultipleChoiceField(choices=[("1", "一"), ("2", "二"), ("3", "三")], required=False)
    maybe = forms.NullBooleanField(required=False)
    note = forms.CharField(required=False, widget=forms.Textarea)
    radio = forms.ChoiceField(choices=[("r", "R"), ("s", "S")], widget=forms.RadioSelect, required=False)


BOUND = [
    {},
    {
        "text": '<script>"x"</script>',
        "required_text": "",
        "number": "12345",
        "decimal": "1234.5",
        "day": "2026-12-02",
        "moment": "2026-12-02 10:30",
        "time": "10:30",
        "hidden": "&amp;",
        "password": "p'w",
        "flag": "on",
        "choice": "y",
        "many": ["1", "3"],
        "maybe": "true",
        "note": "a\nb",
        "radio": "s",
    },
    {"choice": "1", "number": "bad", "many": ["9"], "day": "not a day"},
]


@pytest.mark.parametrize("data", BOUND)
def test_every_field_renders_the_same(data):
    form = Everything(data or None, initial={"text": "初值", "moment": datetime.datetime(2026, 12, 2, 9, 5)})
    for name in form.fields:
        fast = form[name].as_widget()
        form.renderer = TEMPLATES
        slow = form[name].as_widget()
        form.renderer = FAST
        assert fast == slow, name


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        0,
        1,
        12345,
        Decimal("1234.50"),
        datetime.date(2026, 12, 2),
        mark_safe("<i>safe</i>"),
        "<&>\"'",
    ],
)
def test_inputs_and_options_render_any_value_the_same(value):
    for widget in (
        forms.TextInput(attrs={"data-v": value, "maxlength": 5}),
        forms.NumberInput(),
        forms.HiddenInput(),
    ):
        assert widget.render("f", value, renderer=FAST) == widget.render("f", value, renderer=TEMPLATES)
    select = forms.Select(choices=[(value, value), ("", "空")], attrs={"title": value})
    assert select.render("f", value, renderer=FAST) == select.render("f", value, renderer=TEMPLATES)


def test_a_widget_with_its_own_option_template_goes_through_the_templates():
    class Custom(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    widget = Custom(choices=[("a", "A")])
    assert widget.render("f", "a", renderer=FAST) == widget.render("f", "a", renderer=TEMPLATES)


def test_the_project_renders_with_it(settings):
    assert settings.FORM_RENDERER == "core.form_renderer.WidgetRenderer"
    assert isinstance(Everything().renderer, WidgetRenderer)


def test_selects_and_inputs_do_not_touch_the_templates(monkeypatch):
    def no_templates(self, template_name):
        raise AssertionError(f"{template_name} read")

    monkeypatch.setattr(WidgetRenderer, "get_template", no_templates)
    form = Everything({"choice": "a", "many": ["1"]})
    for name in ("text", "number", "day", "hidden", "flag", "choice", "many", "maybe"):
        assert form[name].as_widget()
