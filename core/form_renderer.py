"""Django's form renderer, with the commonest widgets written in Python.

A filter bar of thirty fields, or a select of a hundred units, went through
Django's widget templates: an include per <option> and per attribute list, a
few hundred template nodes per field. The order list spent a fifth of its time
there. `WidgetRenderer` writes <select> (options and groups) and <input> itself,
character for character what Django's own templates write (tests hold them
equal, tests/core/test_form_renderer.py); every other template, and any widget
that names its own option template, goes through Django's templates as before.

Hand-written rather than a library's: the goal is exactly Django's markup,
which only its templates define.
"""

from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"
INPUT = "django/forms/widgets/input.html"
# Input widgets whose template is only `{% include "django/forms/widgets/input.html" %}`.
INPUTS = {
    f"django/forms/widgets/{kind}.html"
    for kind in (
        "input",
        "checkbox",
        "file",
        "text",
        "number",
        "email",
        "url",
        "password",
        "hidden",
        "date",
        "datetime",
        "time",
        "search",
        "tel",
        "color",
    )
}

# What `{{ value }}` does in a template: localize, then escape unless safe.
_CONTEXT = Context(autoescape=True)


def _text(value) -> str:
    return render_value_in_context(value, _CONTEXT)


def _as_string(value) -> str:
    """`{{ value|stringformat:'s' }}`: str() first, so nothing is localized; escaped unless safe."""
    return render_value_in_context(str(value), _CONTEXT)


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_as_string(value)}"')
    return "".join(parts)


def _input(widget: dict) -> str:
    value = "" if widget["value"] is None else f' value="{_as_string(widget["value"])}"'
    attrs = _attrs(widget["attrs"])
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}{attrs}>'


def _select(widget: dict) -> str | None:
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            if option["template_name"] != OPTION:
                return None
            # The option template's own closing newline comes with each include.
            parts.append(
                f'\n  <option value="{_as_string(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


class WidgetRenderer(DjangoTemplates):
    """Selects and inputs written directly; everything else rendered by the templates."""

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if isinstance(context, dict) else None
        if widget is not None and request is None:
            html = None
            if template_name == SELECT:
                html = _select(widget)
            elif template_name in INPUTS:
                html = _input(widget)
            if html is not None:
                return html
        return super().render(template_name, context, request)
