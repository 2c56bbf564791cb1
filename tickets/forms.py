"""Work-order forms: they read and type the input; tickets.services decides the rules."""

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.choices import staff_for, staff_of_unit, units_for
from accounts.models import OrgUnit, User
from core.forms import StyledFormMixin, with_detail
from core.text import NOTE_LENGTH, TEXT_LENGTH
from customers.models import Contact, Customer
from tickets import permissions
from tickets.models import FIVE_W_ONE_H, Kind, ReturnVisit, Ticket


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return with_detail(obj.real_name or obj.username, obj.org_unit) if obj.org_unit_id else str(obj)


class UnitChoiceField(forms.ModelChoiceField):
    """Units indented by level, so the tree reads at a glance."""

    def label_from_instance(self, obj: OrgUnit) -> str:
        return "\u00a0\u00a0" * max(obj.level - 1, 0) + obj.name


def _unit_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _follow_unit(form: "ActionForm", unit: str, person: str) -> None:
    """With htmx, picking a unit reloads the people to choose from in that unit.

    The order's number goes along: which units a step may name depends on it.
    """
    form.fields[unit].widget.attrs.update(
        {
            "hx-get": f"{reverse('tickets:staff_options')}?{urlencode({'ticket': form.ticket.number})}",
            "hx-target": f"#{form[person].auto_id}",
            "hx-trigger": "change",
            "hx-swap": "innerHTML",
        }
    )


def _note_field(
    label, required: bool = False, message=None, max_length: int = NOTE_LENGTH
) -> forms.CharField:
    errors = {"required": message} if message else {}
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages=errors,
    )


# --- Opening an order ---------------------------------------------------------------


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return with_detail(obj.name, obj.get_relation_display())


class TicketCreateForm(StyledFormMixin, forms.ModelForm):
    contact = ContactChoiceField(
        queryset=Contact.objects.none(),
        required=False,
        label=_("联系人"),
        empty_label=_("主联系人"),
        help_text=_("留空则使用客户档案中的主联系人。"),
    )

    class Meta:
        model = Ticket
        fields = [
            "kind",
            "category",
            "source",
            "urgency",
            "title",
            "description",
            "contact",
            *FIVE_W_ONE_H,
            "assignee",
        ]
        field_classes = {"assignee": StaffChoiceField}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "why": forms.Textarea(attrs={"rows": 2}),
            "what": forms.Textarea(attrs={"rows": 2}),
            "how": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "assignee": _("留空则由监控组派单；选择后工单直接派给该处理人。"),
            "how": _("客户希望如何处理：直接解决、举例说明或提供方案供客户选择。"),
        }
        error_messages = {
            "kind": {
                "required": _("请选择工单类型。"),
                "invalid_choice": _("工单类型无效，请从列表中选择。"),
            },
            "category": {"invalid_choice": _("业务分类无效，请从列表中选择。")},
            "source": {"invalid_choice": _("来源无效，请从列表中选择。")},
            "urgency": {
                "required": _("请选择紧急程度。"),
                "invalid_choice": _("紧急程度无效，请从“普通、紧急、特急”中选择。"),
            },
            "title": {"required": _("请填写标题。")},
            "description": {"required": _("请填写诉求内容。")},
            "assignee": {"invalid_choice": _("处理人必须是该客户所属供电所的人员。")},
        }

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.fields["assignee"].queryset = staff_of_unit(customer.station_id).select_related("org_unit")
        self.fields["assignee"].empty_label = _("暂不指定（待派单）")
        self.fields["kind"].choices = [("", _("请选择工单类型")), *Kind.choices]
        self.fields["contact"].queryset = customer.contacts.order_by("-is_primary", "id")
        self.fields["title"].widget.attrs["placeholder"] = _("一句话说明客户诉求，例如：家中停电")
        self._style_widgets()

    @property
    def five_w_one_h_fields(self):
        return [self[name] for name in FIVE_W_ONE_H]

    @property
    def main_fields(self):
        return [self[name] for name in self.fields if name not in FIVE_W_ONE_H]

    def service_fields(self) -> dict:
        """The cleaned values ticket_create takes."""
        return dict(self.cleaned_data)


# --- One form per lifecycle step ------------------------------------------------------


class ActionForm(StyledFormMixin, forms.Form):
    """Base of the step forms: each knows the order and the user it is shown to."""

    def __init__(self, *args, ticket: Ticket, user: User, auto_id: str = "id_%s", **kwargs):
        super().__init__(*args, auto_id=auto_id, **kwargs)
        self.ticket = ticket
        self.user = user
        self.setup()
        self._style_widgets()

    def setup(self) -> None:
        """Fill choice lists that depend on the order or the user."""

    def service_fields(self) -> dict:
        return dict(self.cleaned_data)


class EmptyForm(ActionForm):
    """A step with nothing to fill in (sign for, start, archive)."""


class DispatchForm(ActionForm):
    org_unit = UnitChoiceField(
        queryset=OrgUnit.objects.none(),
        label=_("责任单位"),
        empty_label=_("请选择责任单位"),
        error_messages={
            "required": _("请选择责任单位。"),
            "invalid_choice": _("所选单位不在您的管辖范围内。"),
        },
    )
    assignee = StaffChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("处理人"),
        empty_label=_("暂不指定"),
        error_messages={"invalid_choice": _("处理人必须属于所选责任单位。")},
    )
    note = _note_field(_("派单说明"))

    def setup(self) -> None:
        self.fields["org_unit"].queryset = units_for(self.user)
        unit_id = _unit_id(self.data.get("org_unit")) if self.is_bound else self.ticket.org_unit_id
        self.fields["assignee"].queryset = staff_of_unit(unit_id).select_related("org_unit")
        if not self.is_bound:
            self.initial.setdefault("org_unit", self.ticket.org_unit_id)
        _follow_unit(self, "org_unit", "assignee")


class ReassignForm(DispatchForm):
    """改派: the dispatch form's unit and person, with the reason the timeline keeps."""

    note = None
    reason = _note_field(_("改派原因"), required=True, message=_("请填写改派原因。"))


class BulkForm(StyledFormMixin, forms.Form):
    """批量催办/改派 from the order list: the selected ids, one reason, and for 改派 the unit and person."""

    ACTIONS = (("urge", _("催办")), ("reassign", _("改派")))

    action = forms.ChoiceField(
        choices=ACTIONS, label=_("批量操作"), error_messages={"invalid_choice": _("请选择批量操作。")}
    )
    ids = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.MultipleHiddenInput,
        error_messages={"required": _("请先勾选工单。"), "invalid_choice": _("所选工单无效。")},
    )
    reason = _note_field(_("原因"), required=True, message=_("请填写原因。"))
    org_unit = UnitChoiceField(
        queryset=OrgUnit.objects.none(),
        required=False,
        label=_("改派至单位"),
        empty_label=_("请选择责任单位"),
        error_messages={"invalid_choice": _("所选单位不在您的管辖范围内。")},
    )
    assignee = StaffChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("改派至处理人"),
        empty_label=_("暂不指定"),
        error_messages={"invalid_choice": _("处理人必须属于所选责任单位。")},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # Any whole number passes here; scope is the service's to check (out-of-scope ids are counted).
        self.fields["ids"].valid_value = lambda value: str(value).isdigit() and len(str(value)) < 12
        self.fields["org_unit"].queryset = units_for(user)
        unit_id = _unit_id(self.data.get("org_unit")) if self.is_bound else None
        self.fields["assignee"].queryset = staff_of_unit(unit_id).select_related("org_unit")
        self.fields["org_unit"].widget.attrs.update(
            {
                "hx-get": reverse("tickets:staff_options"),
                "hx-target": f"#{self['assignee'].auto_id}",
                "hx-trigger": "change",
                "hx-swap": "innerHTML",
            }
        )
        self._style_widgets()

    def clean(self):
        data = super().clean()
        if data.get("action") == "reassign" and not data.get("org_unit") and "org_unit" not in self.errors:
            self.add_error("org_unit", _("请选择责任单位。"))
        return data


class SendBackForm(ActionForm):
    reason = _note_field(_("退回原因"), required=True, message=_("请填写退回原因。"))


class TransferForm(ActionForm):
    to_unit = UnitChoiceField(
        queryset=OrgUnit.objects.order_by("path"),
        label=_("接收单位"),
        empty_label=_("请选择接收单位"),
        error_messages={"required": _("请选择接收单位。"), "invalid_choice": _("接收单位无效。")},
    )
    to_user = StaffChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("接收人"),
        empty_label=_("不指定（由接收单位签收）"),
        help_text=_("选择接收单位后可指定接收人。"),
        error_messages={"invalid_choice": _("接收人必须属于接收单位。")},
    )
    tracker = StaffChoiceField(
        queryset=User.objects.none(),
        label=_("跟踪人"),
        empty_label=_("请选择跟踪人"),
        help_text=_("转办后由跟踪人持续跟进，直至回访结束。"),
        error_messages={"required": _("请指定跟踪人。"), "invalid_choice": _("跟踪人无效，请从列表中选择。")},
    )
    reason = _note_field(_("转办原因"), required=True, message=_("请填写转办原因。"))

    def setup(self) -> None:
        self.fields["to_unit"].queryset = permissions.transfer_units(self.ticket.org_unit)
        # The prefecture's name only for an answer to a submitted form: a page that
        # merely shows the form pays no query for it.
        if (
            self.is_bound
            and settings.TICKET_TRANSFER_SCOPE == "prefecture"
            and (prefecture := permissions.prefecture_of(self.ticket.org_unit))
        ):
            self.fields["to_unit"].error_messages["invalid_choice"] = _(
                "只能转办给%(prefecture)s范围内的单位。"
            ) % {"prefecture": prefecture.name}
        unit_id = _unit_id(self.data.get("to_unit")) if self.is_bound else None
        self.fields["to_user"].queryset = staff_of_unit(unit_id).select_related("org_unit")
        trackers = staff_for(self.user) | User.objects.filter(pk=self.user.pk)
        self.fields["tracker"].queryset = trackers.select_related("org_unit").order_by("real_name", "id")
        if not self.is_bound:
            self.initial.setdefault("tracker", self.user.pk)
        _follow_unit(self, "to_unit", "to_user")


class UrgeForm(ActionForm):
    note = _note_field(_("催办说明"))


class ResolveForm(ActionForm):
    resolution_kind = forms.ChoiceField(
        choices=Ticket.ResolutionKind.choices,
        initial=Ticket.ResolutionKind.DIRECT,
        label=_("解决方式"),
        error_messages={"required": _("请选择解决方式。"), "invalid_choice": _("请选择解决方式。")},
    )
    resolution = _note_field(
        _("处理结果"), required=True, message=_("请填写处理结果。"), max_length=TEXT_LENGTH
    )
    commitment = _note_field(_("服务承诺"))
    commitment_due = forms.DateField(
        label=_("承诺完成日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("请输入有效日期，例如 2026-12-01。")},
    )

    def setup(self) -> None:
        self.fields["resolution"].help_text = _("如实填写处理情况，与现场一致（例如客户确已复电）。")


class ReturnVisitForm(ActionForm):
    # 自助评价 is the customer's own answer to the survey link, never a staff entry.
    method = forms.ChoiceField(
        choices=[c for c in ReturnVisit.Method.choices if c[0] != ReturnVisit.Method.SELF_SERVICE],
        label=_("回访方式"),
        error_messages={"required": _("请选择回访方式。"), "invalid_choice": _("请选择回访方式。")},
    )
    result = forms.ChoiceField(
        choices=[("", _("请选择")), *ReturnVisit.Result.choices],
        label=_("回访结果"),
        error_messages={"required": _("请选择回访结果。"), "invalid_choice": _("请选择回访结果。")},
    )
    note = _note_field(_("回访记录"))

    def setup(self) -> None:
        self.fields["result"].help_text = _("选择“不满意”时工单将重新处理，并通知监控主管。")


class KeepPromiseForm(ActionForm):
    note = _note_field(_("兑现说明"))


class ReopenForm(ActionForm):
    note = _note_field(_("重新处理原因"))


class LinkForm(ActionForm):
    identifier_fields = ("other",)

    other = forms.CharField(
        label=_("关联工单编号"),
        max_length=20,
        error_messages={"required": _("请填写要关联的工单编号。")},
    )
    note = _note_field(_("关联说明"))

    def setup(self) -> None:
        self.fields["other"].widget.attrs.update(
            {"placeholder": _("例如 GD202611220001"), "autocomplete": "off"}
        )

    def clean_other(self) -> Ticket:
        number = self.cleaned_data["other"].strip().upper()
        other = Ticket.objects.visible_to(self.user).filter(number=number).first()
        if other is None:
            raise forms.ValidationError(
                _("未找到工单“%(number)s”，或您无权查看该工单。"), params={"number": number}
            )
        return other


class AttachmentForm(ActionForm):
    upload = forms.FileField(
        label=_("图片"),
        help_text=_("JPG、JPEG或PNG格式，不超过5MB。"),
        error_messages={"required": _("请选择要上传的图片。"), "empty": _("上传的文件是空的。")},
    )

    def setup(self) -> None:
        self.fields["upload"].widget.attrs["accept"] = ".jpg,.jpeg,.png,image/jpeg,image/png"


def staff_options(*, user: User, unit_id, ticket: Ticket | None = None) -> QuerySet[User]:
    """The people of a unit, for the dependent select that follows a unit choice.

    Only for a unit the user may hand an order to, by the rule of the form the
    select sits in: a transfer of an order the user may transfer goes where
    transfers may go (TransferForm, permissions.transfer_units); anything else
    stays within the user's reach (DispatchForm). Any other unit lists nobody.
    """
    unit_id = _unit_id(unit_id)
    if unit_id is None:
        return User.objects.none()
    may_transfer = ticket is not None and permissions.can(user, permissions.Action.TRANSFERRED, ticket)
    reach = permissions.transfer_units(ticket.org_unit) if may_transfer else units_for(user)
    if not reach.filter(pk=unit_id).exists():
        return User.objects.none()
    return staff_of_unit(unit_id).select_related("org_unit")
