"""Contact-log forms: they read and type the input; customers.interactions.services decides the rules."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.forms import StyledFormMixin
from customers.models import Customer, Interaction


class CustomerNumberField(forms.CharField):
    """A customer picked by number among those the user may see."""

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        kwargs.setdefault("label", gettext_lazy("户号"))
        kwargs.setdefault("max_length", 13)
        kwargs.setdefault("error_messages", {"required": gettext_lazy("请填写户号。")})
        super().__init__(*args, **kwargs)

    def clean(self, value):
        number = super().clean(value).strip()
        customer = Customer.objects.visible_to(self.user).filter(number=number).first()
        if customer is None:
            raise ValidationError(_("未找到户号为 %(number)s 的客户，或您无权查看。") % {"number": number})
        return customer


class InteractionForm(StyledFormMixin, forms.ModelForm):
    # The page asks how the customer felt before what was said.
    field_order = ("channel", "direction", "occurred_at", "mood")

    class Meta:
        model = Interaction
        fields = Interaction.LOG_FIELDS
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "next_follow_up": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "summary": forms.Textarea(attrs={"rows": 4}),
        }
        help_texts = {"ticket_number": gettext_lazy("如已有工单，请填写工单编号。")}
        error_messages = {
            "channel": {"required": gettext_lazy("请选择联系渠道。")},
            "occurred_at": {
                "required": gettext_lazy("请填写联系时间。"),
                "invalid": gettext_lazy("联系时间格式不正确。"),
            },
            "summary": {"required": gettext_lazy("请填写联系内容。")},
        }

    def __init__(self, *args, user: User, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if customer is None:
            self.fields = {"customer": CustomerNumberField(user=user), **self.fields}
        self.initial.setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))
        self._style_widgets()

    def _post_clean(self):
        # The service validates the model; the form only parses input.
        pass

    def service_fields(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "customer"}
