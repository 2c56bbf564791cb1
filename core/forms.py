"""Form helpers shared by every app's pages."""

from django import forms
from django.core.exceptions import ValidationError
from django.db.models.fields import BLANK_CHOICE_DASH
from django.utils.translation import gettext as _

from core.text import validate_multiline_text, validate_text
from core.validation import validate_moment


def with_detail(name, detail) -> str:
    """A choice label such as 张三（雷山供电所）, with the brackets of the interface language."""
    return _("%(name)s（%(detail)s）") % {"name": name, "detail": detail}


# Django's empty choice ("---------") says nothing to a person choosing.
DASHED_LABEL = BLANK_CHOICE_DASH[0][1]


def choose_prompt(label) -> str:
    """The empty choice of a select in a form: 请选择台区."""
    return _("请选择%(label)s") % {"label": label}


def name_empty_choice(field: forms.Field, label=None) -> None:
    """Give a select's empty choice a meaning instead of "---------".

    `label` defaults to 请选择<field label>; filters pass 全部/不限. A label
    already chosen (an `empty_label` a form set) is kept; so is a select
    without an empty choice.
    """
    if not isinstance(field, forms.ChoiceField | forms.ModelChoiceField):
        return
    if label is None:
        label = choose_prompt(field.label or "")
    if isinstance(field, forms.ModelChoiceField):
        if field.empty_label == DASHED_LABEL:
            field.empty_label = label
        return
    choices = list(field.choices)
    if any(value == "" and text == DASHED_LABEL for value, text in choices):
        field.choices = [
            (value, label if value == "" and text == DASHED_LABEL else text) for value, text in choices
        ]


def take_whole(field: forms.Field) -> None:
    """An identifier (户号, order number, phone number) is taken whole and refused when too long.

    The browser's `maxlength` cuts a pasted or typed 17-digit 户号 to 13 without
    a word, and the cut number may well be someone else's; without it the
    server sees every digit and says what is wrong.
    """
    field.widget.attrs.pop("maxlength", None)
    field.widget.attrs.setdefault("autocomplete", "off")
    field.widget.attrs.setdefault("spellcheck", "false")
    field.error_messages.setdefault(
        "max_length", _("最多%(limit_value)d位，您输入了%(show_value)d位，请核对后重新输入。")
    )


class StyledFormMixin:
    """Bootstrap classes on every widget (checkboxes are drawn by includes/form_fields.html).

    Call `self._style_widgets()` at the end of `__init__`, after the fields
    have their final widgets. Text fields then also refuse what is not text
    (core.text); a textarea takes several lines; dates and times lie in this
    century (core.validation.validate_moment). A select's empty choice
    reads 请选择<label> unless the form named it (`name_empty_choice`).
    The fields named in `identifier_fields` (户号, order and phone numbers)
    take input whole (`take_whole`).
    """

    identifier_fields: tuple[str, ...] = ()

    def add_error(self, field, error) -> None:
        """Every error, the form's own or a service's refusal (`report_refusal`), marks its input red."""
        super().add_error(field, error)
        for name in self._errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                classes = attrs.get("class", "").split()
                if "is-invalid" not in classes:
                    attrs["class"] = " ".join([*classes, "is-invalid"])

    def _style_widgets(self) -> None:
        for name in self.identifier_fields:
            if name in self.fields:
                take_whole(self.fields[name])
        for field in self.fields.values():
            name_empty_choice(field)
            widget = field.widget
            if isinstance(field, forms.CharField):
                field.validators.append(
                    validate_multiline_text if isinstance(widget, forms.Textarea) else validate_text
                )
            if isinstance(field, forms.DateField | forms.DateTimeField):
                field.validators.append(validate_moment)
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
