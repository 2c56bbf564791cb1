"""The outage status badge is a template tag (a prefecture's outage list writes hundreds): its
markup is the one the included template wrote, for every status and in both languages."""

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from outages.models import Outage, OutageStatus

# The template the tag replaces, as it was.
INCLUDED = Template(
    '{% if outage.status == "ongoing" %}'
    '<span class="badge text-bg-danger">{{ outage.get_status_display }}</span>'
    '{% elif outage.status == "published" %}'
    '<span class="badge text-bg-warning">{{ outage.get_status_display }}</span>'
    '{% elif outage.status == "restored" %}'
    '<span class="badge text-bg-success">{{ outage.get_status_display }}</span>'
    "{% else %}"
    '<span class="badge text-bg-secondary">{{ outage.get_status_display }}</span>'
    "{% endif %}"
)
TAG = Template("{% load outage_tags %}{% outage_status_badge outage %}")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("status", [*OutageStatus.values, "unknown<&>"])
def test_the_tag_writes_what_the_included_template_wrote(status, language):
    outage = Outage(status=status)
    with translation.override(language):
        context = Context({"outage": outage})
        assert TAG.render(context) == INCLUDED.render(context)


def test_the_list_shows_each_outage_with_its_badge(login, manager, planned, fault):
    outages = [planned(), fault()]
    page = login(manager).get(reverse("outages:list")).content.decode()
    for outage in outages:
        outage.refresh_from_db()
        context = Context({"outage": outage})
        assert INCLUDED.render(context) in page
