"""Field errors and help texts are tied to their inputs (aria-invalid, aria-describedby),
so a screen reader reads the reason with the field, not somewhere else on the page."""

from html.parser import HTMLParser

from django.urls import reverse


class _Fields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.described: dict[str, list[str]] = {}
        self.invalid: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag in ("input", "select", "textarea") and attrs.get("name"):
            if attrs.get("aria-describedby"):
                self.described[attrs["name"]] = attrs["aria-describedby"].split()
            if attrs.get("aria-invalid") == "true":
                self.invalid.add(attrs["name"])


def _fields(html: str) -> _Fields:
    parser = _Fields()
    parser.feed(html)
    return parser


def test_a_refused_contact_log_ties_each_error_to_its_field(login, manager):
    response = login(manager).post(
        reverse("customers:interaction_quick_create"), {"customer": "56", "summary": ""}
    )
    assert response.status_code == 200
    page = _fields(response.content.decode())
    assert {"customer", "summary"} <= page.invalid
    assert "id_customer_error" in page.described["customer"]
    assert "id_summary_error" in page.described["summary"]
    # Every id an input names is on the page: the reader finds the text it points at.
    for names in page.described.values():
        assert set(names) <= page.ids, names


def test_a_help_text_is_tied_to_its_field(login, manager):
    response = login(manager).get(reverse("customers:interaction_quick_create"))
    page = _fields(response.content.decode())
    assert "id_customer_helptext" in page.described["customer"]
    assert "id_customer_helptext" in page.ids
