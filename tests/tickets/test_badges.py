"""The order badges (status, urgency, time left) written by template tags: the same
markup the list, the workbench, the order page and the 360 panel show."""

import pytest
from django.template import Context, Template
from django.utils import translation
from django.utils.html import format_html

from tickets.models import Status, Ticket, Urgency
from tickets.selectors import Deadline

STATUS_CLASSES = {
    Status.NEW: "text-bg-secondary",
    Status.RETURNED: "text-bg-secondary",
    Status.DISPATCHED: "text-bg-info",
    Status.SIGNED: "text-bg-primary",
    Status.IN_PROGRESS: "text-bg-primary",
    Status.RESOLVED: "text-bg-success",
    Status.VISITED: "text-bg-success",
    Status.ARCHIVED: "text-bg-light border",
}


def render(source: str, **context) -> str:
    return Template("{% load ticket_tags %}" + source).render(Context(context))


def test_every_status_has_its_colour_and_label():
    assert set(STATUS_CLASSES) == set(Status)
    for status, css in STATUS_CLASSES.items():
        ticket = Ticket(status=status)
        assert render("{% status_badge t %}", t=ticket) == f'<span class="badge {css}">{status.label}</span>'


@pytest.mark.parametrize(
    ("urgency", "css"),
    [
        (Urgency.CRITICAL, "text-bg-danger"),
        (Urgency.URGENT, "text-bg-warning"),
        (Urgency.NORMAL, "text-bg-light border"),
    ],
)
def test_urgency_badge(urgency, css):
    ticket = Ticket(urgency=urgency)
    assert render("{% urgency_badge t %}", t=ticket) == f'<span class="badge {css}">{urgency.label}</span>'


def test_deadline_badge_by_level_with_its_clock_in_the_title():
    cases = {
        "overdue": '<span class="badge text-bg-danger deadline-overdue" title="签收时限">已超时 2小时</span>',
        "near": '<span class="badge text-bg-warning deadline-near" title="签收时限">已超时 2小时</span>',
        "ok": '<span class="deadline-ok" title="签收时限">已超时 2小时</span>',
        "closed": '<span class="text-body-secondary">—</span>',
    }
    for level, html in cases.items():
        assert render("{% deadline_badge d %}", d=Deadline(level, "已超时 2小时", "签收")) == html
    # An order without a deadline worked out (no `deadline` set) shows the dash, not an error.
    assert render("{% deadline_badge d %}", d=None) == cases["closed"]


def test_deadline_text_is_escaped_and_the_title_translated():
    deadline = Deadline("ok", '<b>"剩余"</b>', "<i>")
    html = render("{% deadline_badge d %}", d=deadline)
    assert "<b>" not in html and "<i>" not in html
    assert "&lt;b&gt;&quot;剩余&quot;&lt;/b&gt;" in html and 'title="&lt;i&gt;时限"' in html
    with translation.override("en"):
        english = render("{% deadline_badge d %}", d=Deadline("ok", "1 h left", "Resolve"))
    assert "时限" not in english


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_badges_labels_are_get_display_in_each_language_whatever_was_shown_before(language):
    """The tags read labels from a table per field and language: each language gets its own,
    and a value without a label shows as get_FOO_display() shows it, escaped."""
    for first in ("en", "zh-hans"):
        with translation.override(first):
            render(
                "{% status_badge t %}{% urgency_badge t %}",
                t=Ticket(status=Status.NEW, urgency=Urgency.NORMAL),
            )
    with translation.override(language):
        for status in [*Status, "odd<&>"]:
            ticket = Ticket(status=status)
            css = STATUS_CLASSES.get(status, "text-bg-light border")
            expected = format_html('<span class="badge {}">{}</span>', css, ticket.get_status_display())
            assert render("{% status_badge t %}", t=ticket) == expected
        for urgency, css in [
            (Urgency.CRITICAL, "text-bg-danger"),
            (Urgency.URGENT, "text-bg-warning"),
            (7, None),
        ]:
            ticket = Ticket(urgency=urgency)
            expected = format_html(
                '<span class="badge {}">{}</span>',
                css or "text-bg-light border",
                ticket.get_urgency_display(),
            )
            assert render("{% urgency_badge t %}", t=ticket) == expected
