"""Archive forms: choices limited to what the user may see, rules checked by customers.services."""

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.choices import account_managers_for, stations_for
from accounts.models import User
from core.forms import StyledFormMixin, with_detail
from core.phones import mask_phone
from core.pickers import PickerSelect
from customers.models import ARCHIVE_FIELDS, Contact, Customer
from customers.selectors import districts_for, lines_for
from customers.services import customer_network_errors


def _with_current(queryset: QuerySet, current_pk: int | None) -> QuerySet:
    """Keep the value already on the record selectable even if it lies outside the user's choices."""
    if current_pk is None:
        return queryset
    return queryset | queryset.model._default_manager.filter(pk=current_pk)


class ManagerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return with_detail(obj, obj.org_unit) if obj.org_unit_id else str(obj)


class CustomerForm(StyledFormMixin, forms.ModelForm):
    identifier_fields = ("number",)

    class Meta:
        model = Customer
        fields = list(ARCHIVE_FIELDS)
        field_classes = {"manager": ManagerChoiceField}
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            # Searchable: a prefecture has thousands of districts, lines and managers.
            "district": PickerSelect("customers:picker_districts", params={"station": "station"}),
            "line": PickerSelect(
                "customers:picker_lines", params={"district": "district", "station": "station"}
            ),
            "manager": PickerSelect("accounts:picker_managers"),
        }
        help_texts = {
            "number": _("10到13位数字，与营销系统一致；建档后不可修改。"),
            "line": _("选择台区后可留空，系统按台区所挂线路填写。"),
        }
        error_messages = {
            "number": {
                "unique": _("户号已存在，请核对后重新输入。"),
                "required": _("请填写户号。"),
                "max_length": _("户号必须是10到13位数字。"),
            },
            "name": {"required": _("请填写客户名称。")},
            "station": {
                "required": _("请选择供电所。"),
                "invalid_choice": _("所选供电所不在您的管辖范围内。"),
            },
            "district": {"invalid_choice": _("所选台区不在您的管辖范围内。")},
            "line": {"invalid_choice": _("所选线路不在您的管辖范围内。")},
            "manager": {"invalid_choice": _("所选客户经理不在您的管辖范围内。")},
        }

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        instance = self.instance
        editing = instance.pk is not None
        self.fields["station"].queryset = _with_current(stations_for(user), instance.station_id)
        self.fields["district"].queryset = _with_current(districts_for(user), instance.district_id)
        self.fields["line"].queryset = _with_current(lines_for(user), instance.line_id)
        self.fields["manager"].queryset = _with_current(
            account_managers_for(user).select_related("org_unit"), instance.manager_id
        )
        self.fields["station"].empty_label = _("请选择供电所")
        self.fields["district"].empty_label = _("未指定台区")
        self.fields["line"].empty_label = _("未指定线路")
        self.fields["manager"].empty_label = _("未指定客户经理")
        self.fields["voltage"].choices = [("", _("未填写")), *Customer.Voltage.choices]
        self.fields["number"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        if editing:
            self.fields["number"].disabled = True
            self.fields["number"].help_text = _("户号是与营销系统同步的关键字，不可修改。")
        self._style_widgets()

    def clean(self):
        cleaned = super().clean()
        errors = customer_network_errors(
            station=cleaned.get("station"),
            district=cleaned.get("district"),
            line=cleaned.get("line"),
            manager=cleaned.get("manager"),
        )
        for field, message in errors.items():
            self.add_error(field, message)
        return cleaned

    def validate_unique(self) -> None:
        """Whether the number is taken is the service's to say: it answers a number
        out of the user's scope as merely unusable, and knows deleted archives."""

    def service_fields(self) -> dict:
        """The cleaned values a service takes (a disabled field is not sent back)."""
        return {name: value for name, value in self.cleaned_data.items() if not self.fields[name].disabled}


class ContactForm(StyledFormMixin, forms.ModelForm):
    """A contact; someone who does not own the customer never sees the stored numbers in full.

    For them the phone inputs start empty with the masked number as a hint, and
    an empty input keeps the stored number.
    """

    identifier_fields = Contact.PHONE_FIELDS

    class Meta:
        model = Contact
        fields = Contact.EDITABLE_FIELDS
        help_texts = {
            "mobile": _("11位手机号码，例如 13595561234。"),
            "landline": _("区号加号码，例如 0855-8123456。"),
            "is_primary": _("设为主联系人后，原主联系人自动取消。"),
        }
        error_messages = {"name": {"required": _("请填写联系人姓名。")}}

    def __init__(self, *args, reveal_phones: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.keeps_hidden_phones = self.instance.pk is not None and not reveal_phones
        for name in Contact.PHONE_FIELDS:
            self.fields[name].widget.attrs.update({"inputmode": "tel", "autocomplete": "off"})
            if self.keeps_hidden_phones:
                stored = getattr(self.instance, name)
                self.initial[name] = ""
                if stored:
                    self.fields[name].widget.attrs["placeholder"] = mask_phone(stored)
                    self.fields[name].help_text = _("留空则保留原号码。")
        self._style_widgets()

    def _clean_phone(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value and self.keeps_hidden_phones:
            return getattr(self.instance, name)
        return value

    def clean_mobile(self) -> str:
        return self._clean_phone("mobile")

    def clean_landline(self) -> str:
        return self._clean_phone("landline")

    def clean(self):
        cleaned = super().clean()
        phones = [cleaned.get(name) for name in ("mobile", "landline")]
        if "mobile" in cleaned and "landline" in cleaned and not any(phones):
            self.add_error("mobile", _("手机号码和固定电话至少填写一项。"))
        return cleaned
