"""Visit forms: they read and type the input; customers.visits.services decides the rules."""

from django import forms
from django.utils.translation import gettext_lazy

from core.forms import StyledFormMixin
from core.text import TEXT_LENGTH
from customers.models import Visit


class VisitForm(StyledFormMixin, forms.ModelForm):
    class Meta:
        model = Visit
        fields = ["purpose", "scheduled_at", *Visit.PREPARATION_FIELDS]
        widgets = {
            "scheduled_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "prep_cause": forms.Textarea(attrs={"rows": 2}),
            "prep_solution": forms.Textarea(attrs={"rows": 2}),
        }
        error_messages = {
            "purpose": {"required": gettext_lazy("请选择走访目的。")},
            "scheduled_at": {"required": gettext_lazy("请填写计划走访时间。")},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()

    def _post_clean(self):
        pass


class VisitCompleteForm(StyledFormMixin, forms.Form):
    outcome = forms.CharField(
        label=gettext_lazy("走访结果"),
        max_length=TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": gettext_lazy("请填写走访结果。")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()
