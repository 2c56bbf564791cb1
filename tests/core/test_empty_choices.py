"""No select on a page offers "---------": every empty choice says what it means.

The pages are walked from the permission matrix's routes (every page reachable
by GET with the objects of its world), as each persona that may open them, in
Chinese and in English.
"""

import re

import django_filters
import pytest
from django import forms
from django.urls import reverse
from django.utils import translation

from core.forms import choose_prompt, name_empty_choice
from customers.models import District, Line
from tests.security import test_permission_matrix as matrix

# The matrix's objects of 雷山供电所, as a fixture of this module too.
world = matrix.world

# A select and its dashed choice: Django's default empty label ("---------").
DASHES = re.compile(
    r'<select[^>]*name="(?P<name>[^"]+)"[^>]*>(?:(?!</select>).)*?<option[^>]*>\s*-{3,}\s*</option>', re.S
)

UNTRANSLATED = re.compile(r"<option[^>]*>\s*(请选择[^<]*)</option>")


def _page_probes():
    for name, probes in sorted(matrix.MATRIX.items()):
        for probe in probes:
            if probe.method == "GET" and not probe.url:
                yield name, probe


def _pages(world):
    for name, probe in _page_probes():
        pattern, _view = matrix.routes()[name]
        if pattern.startswith("api/") or name.endswith("export") or "template" in name:
            continue
        url = reverse(name, kwargs={key: matrix._resolve(world, ref) for key, ref in probe.kwargs.items()})
        yield name, url, probe


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_no_page_offers_a_dashed_empty_choice(world, client, language):
    found = []
    for persona in ("manager", "supervisor", "admin_user"):
        client.force_login(world["personas"][persona])
        client.cookies["django_language"] = language
        for _name, url, probe in _pages(world):
            if probe.letters[matrix.PERSONAS.index(persona)] != "A":
                continue
            response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code < 500, url
            if "text/html" not in response.get("Content-Type", ""):
                continue
            html = response.content.decode()
            for match in DASHES.finditer(html):
                found.append(f"{persona} {url}: {match['name']}")
            if language == "en":
                found += [f"{persona} {url}: {text}" for text in UNTRANSLATED.findall(html)]
    assert not found, "\n".join(found)


def test_a_select_without_a_named_empty_choice_asks_for_its_label():
    field = forms.ChoiceField(label="联系渠道", choices=[("", "---------"), ("phone", "电话")])
    name_empty_choice(field)
    assert field.choices == [("", "请选择联系渠道"), ("phone", "电话")]


def test_a_model_select_gets_the_label_and_a_chosen_one_is_kept(db):
    plain = forms.ModelChoiceField(label="台区", queryset=District.objects.none())
    named = forms.ModelChoiceField(label="线路", queryset=Line.objects.none(), empty_label="不关联线路")
    required = forms.ModelChoiceField(label="台区", queryset=District.objects.none(), empty_label=None)
    for field in (plain, named, required):
        name_empty_choice(field)
    assert list(plain.choices) == [("", "请选择台区")]
    assert list(named.choices) == [("", "不关联线路")]
    assert list(required.choices) == []


def test_a_select_without_an_empty_choice_is_left_alone():
    field = forms.ChoiceField(label="方向", choices=[("in", "呼入"), ("out", "呼出")])
    name_empty_choice(field)
    assert field.choices == [("in", "呼入"), ("out", "呼出")]


def test_the_prompt_is_translated():
    with translation.override("en"):
        assert choose_prompt("District") == "Select District"


def test_a_list_filter_without_its_own_empty_label_means_all():
    class Filters(django_filters.FilterSet):
        kind = django_filters.ChoiceFilter(choices=[("a", "甲")])

    form = Filters(data={}, queryset=District.objects.none()).form
    assert list(form.fields["kind"].choices)[0] == ("", "全部")
    with translation.override("en"):
        assert (
            str(list(Filters(data={}, queryset=District.objects.none()).form.fields["kind"].choices)[0][1])
            == "All"
        )
