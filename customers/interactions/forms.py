"""Contact-log forms: they read and type the input; customers.interactions.services decides the rules."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.forms import StyledFormMixin
from customers.models import Customer, Interaction
from customers.selectors import SEARCH_MATCH_LIMIT, customer_search

# A picker that finds several customers names a few of them, so the user can type one more digit.
CANDIDATES_SHOWN = 5


class CustomerNumberField(forms.CharField):
    """A customer picked among those the user may see: by 户号, or by a fragment that finds exactly one.

    The fragment is what the list's search takes (a 户号's start or end, part of
    a contact's phone, part of the name or address); several or no matches are
    refused with the reason, several with a few candidates named.
    """

    def __init__(self, *args, user: User, **kwargs):
        self.user = user
        kwargs.setdefault("label", gettext_lazy("客户"))
        kwargs.setdefault("max_length", 100)
        kwargs.setdefault(
            "help_text", gettext_lazy("户号，或户号、电话的至少4位数字，或姓名、地址的一部分。")
        )
        kwargs.setdefault("error_messages", {"required": gettext_lazy("请填写户号、电话或客户名称。")})
        super().__init__(*args, **kwargs)

    def clean(self, value):
        term = super().clean(value).strip()
        visible = Customer.objects.visible_to(self.user)
        exact = visible.filter(number=term).first()
        if exact is not None:
            return exact
        search = customer_search(term, customers=visible)
        if search.hint and not search.too_many:
            raise ValidationError(search.hint, code="too_short")
        if not search.ids:
            raise ValidationError(
                _("未找到与「%(term)s」匹配的客户，或您无权查看。") % {"term": term}, code="not_found"
            )
        if len(search.ids) > 1:
            candidates = visible.filter(pk__in=search.ids).order_by("-pk")[:CANDIDATES_SHOWN]
            count = _("超过%(count)d") % {"count": SEARCH_MATCH_LIMIT} if search.too_many else len(search.ids)
            raise ValidationError(
                _("有%(count)s位客户与「%(term)s」匹配，请输入更完整的户号、电话或名称：%(candidates)s")
                % {
                    "count": count,
                    "term": term,
                    "candidates": "；".join(str(customer) for customer in candidates),
                },
                code="ambiguous",
            )
        return visible.get(pk=search.ids[0])


class InteractionForm(StyledFormMixin, forms.ModelForm):
    # The page asks how the customer felt before what was said.
    field_order = ("channel", "direction", "occurred_at", "mood")
    identifier_fields = ("ticket_number",)

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
