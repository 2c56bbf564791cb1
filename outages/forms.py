from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import StyledFormMixin
from core.pickers import PickerSelectMultiple
from core.validation import validate_moment
from customers.models import District, Line
from outages.models import OutageKind

DATETIME_WIDGET = forms.DateTimeInput(
    attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
)


class OutageCreateForm(StyledFormMixin, forms.Form):
    identifier_fields = ("external_id",)

    kind = forms.ChoiceField(
        label=_("停电类型"), choices=OutageKind.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    reason = forms.CharField(
        label=_("停电原因"), max_length=255, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    planned_start = forms.DateTimeField(label=_("计划开始时间"), required=False, widget=DATETIME_WIDGET)
    planned_end = forms.DateTimeField(label=_("计划结束时间"), required=False, widget=DATETIME_WIDGET)
    estimated_restoration = forms.DateTimeField(
        label=_("预计恢复时间"), required=False, widget=DATETIME_WIDGET
    )
    external_id = forms.CharField(
        label=_("外部编号"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    lines = forms.ModelMultipleChoiceField(
        label=_("停电线路"),
        queryset=Line.objects.none(),
        required=False,
        widget=PickerSelectMultiple("customers:picker_lines"),
    )
    districts = forms.ModelMultipleChoiceField(
        label=_("停电台区"),
        queryset=District.objects.none(),
        required=False,
        widget=PickerSelectMultiple("customers:picker_districts"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lines"].queryset = Line.objects.visible_to(user)
        self.fields["districts"].queryset = District.objects.visible_to(user)
        self._style_widgets()


class EstimateForm(forms.Form):
    estimated_restoration = forms.DateTimeField(
        label=_("预计恢复时间"), widget=DATETIME_WIDGET, validators=[validate_moment]
    )
