"""Form helpers shared by every app's pages."""

from django import forms


class StyledFormMixin:
    """Bootstrap classes on every widget (checkboxes are drawn by includes/form_fields.html).

    Call `self._style_widgets()` at the end of `__init__`, after the fields
    have their final widgets.
    """

    def _style_widgets(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = css
