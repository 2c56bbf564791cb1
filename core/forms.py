"""Form helpers shared by every app's pages."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.text import validate_multiline_text, validate_text


def with_detail(name, detail) -> str:
    """A choice label such as 张三（雷山供电所）, with the brackets of the interface language."""
    return _("%(name)s（%(detail)s）") % {"name": name, "detail": detail}


class StyledFormMixin:
    """Bootstrap classes on every widget (checkboxes are drawn by includes/form_fields.html).

    Call `self._style_widgets()` at the end of `__init__`, after the fields
    have their final widgets. Text fields then also refuse what is not text
    (core.text); a textarea takes several lines.
    """

    def _style_widgets(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(field, forms.CharField):
                field.validators.append(
                    validate_multiline_text if isinstance(widget, forms.Textarea) else validate_text
                )
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = css


def report_refusal(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's refusal on the form: on the field it names, else above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)
