"""Group forms: they read and type the input; groups.services decides the rules."""

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit, User, ancestor_paths
from core.forms import StyledFormMixin, with_detail
from core.pickers import PickerSelect
from core.text import MESSAGE_LENGTH, TEXT_LENGTH
from customers.models import Contact, District, Line
from customers.selectors import districts_for, lines_for
from groups import selectors
from groups.models import (
    Broadcast,
    BroadcastTopic,
    GroupKind,
    GroupMessage,
    ReplyCategory,
    ServiceGroup,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.identity_card


def _datetime_field(label, help_text="") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        help_text=help_text,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        error_messages={"invalid": _("请输入有效的日期和时间，例如 2026-11-20 09:30。")},
    )


# --- Groups -----------------------------------------------------------------------


class ServiceGroupForm(StyledFormMixin, forms.Form):
    name = forms.CharField(
        label=_("群名称"), max_length=100, error_messages={"required": _("请填写群名称。")}
    )
    kind = forms.ChoiceField(
        label=_("群类型"),
        choices=GroupKind.choices,
        error_messages={"required": _("请选择群类型。"), "invalid_choice": _("群类型无效，请从列表中选择。")},
    )
    owner = PersonChoiceField(
        label=_("负责人"),
        queryset=User.objects.none(),
        widget=PickerSelect("groups:picker_owners"),
        help_text=_("谁建群谁负责：负责人须及时回应群内客户的咨询和诉求。"),
        error_messages={"required": _("请选择负责人。"), "invalid_choice": _("请从列表中选择负责人。")},
    )
    district = forms.ModelChoiceField(
        label=_("台区"),
        queryset=District.objects.none(),
        required=False,
        widget=PickerSelect("customers:picker_districts"),
        help_text=_("台区群必填。"),
        error_messages={"invalid_choice": _("请从列表中选择台区。")},
    )
    line = forms.ModelChoiceField(
        label=_("线路"),
        queryset=Line.objects.none(),
        required=False,
        widget=PickerSelect("customers:picker_lines"),
        help_text=_("线路群必填。"),
        error_messages={"invalid_choice": _("请从列表中选择线路。")},
    )
    audience = forms.CharField(
        label=_("服务对象"),
        max_length=100,
        required=False,
        help_text=_("VIP客户群按客户类别建立，例如：大工业客户、重要客户。"),
    )
    host_organization = forms.CharField(
        label=_("建群单位"),
        max_length=100,
        required=False,
        help_text=_("公共服务群必填：当地政府、村“两委”或社区居委会。"),
    )
    rules = forms.CharField(
        label=_("群规"),
        max_length=TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("建群的同时制定群规，公告群内所有人共同遵守。"),
        error_messages={"required": _("请填写群规：建群的同时就要制定群规，并公告群内所有人共同遵守。")},
    )
    announcement = forms.CharField(
        label=_("群公告"), max_length=TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args, user: User, group: ServiceGroup | None = None, **kwargs):
        if group is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                name: getattr(group, name)
                for name in (
                    "name",
                    "kind",
                    "owner",
                    "district",
                    "line",
                    "audience",
                    "host_organization",
                    "rules",
                    "announcement",
                )
            }
        super().__init__(*args, **kwargs)
        owners = selectors.owners_for(user)
        if group is not None:
            owners = owners | User.objects.filter(pk=group.owner_id)
        self.fields["owner"].queryset = owners.distinct().select_related("org_unit")
        self.fields["owner"].initial = self.fields["owner"].initial or user.pk
        if group is None and not (user.is_supervisor or user.is_administrator):
            # An account manager's group is their own.
            del self.fields["owner"]
        self.fields["district"].queryset = districts_for(user)
        self.fields["line"].queryset = lines_for(user)
        self._style_widgets()

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        # A leftover choice of the other area is not the user's intent.
        if kind != GroupKind.DISTRICT:
            data["district"] = None
        if kind != GroupKind.LINE:
            data["line"] = None
        return data

    def service_fields(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name in self.fields}


# --- Members and messages -------------------------------------------------------------


class AddMemberForm(StyledFormMixin, forms.Form):
    identifier_fields = ("customer_number",)

    customer_number = forms.CharField(
        label=_("客户户号"),
        max_length=13,
        required=False,
        help_text=_("加入该客户的全部联系人。"),
    )
    user = PersonChoiceField(label=_("工作人员"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, group: ServiceGroup, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = staff_candidates(group)
        self._style_widgets()

    def clean(self):
        data = super().clean()
        if not data.get("customer_number") and not data.get("user"):
            raise forms.ValidationError(_("请填写客户户号或选择工作人员。"))
        return data


def staff_candidates(group: ServiceGroup) -> QuerySet[User]:
    """Staff who may be added: people of the group's unit, the units above and below it."""
    path = group.org_unit.path
    return (
        User.objects.filter(is_active=True, org_unit__isnull=False)
        .filter(Q(org_unit__path__in=ancestor_paths(path)) | Q(org_unit__path__startswith=path))
        .select_related("org_unit")
        .order_by("org_unit__path", "real_name", "id")
    )


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return with_detail(obj.name, obj.customer.name)


class MessageLogForm(StyledFormMixin, forms.Form):
    INQUIRY_CHOICES = [("auto", _("自动判断")), ("yes", _("是")), ("no", _("否"))]

    contact = ContactChoiceField(
        label=_("发送人"),
        queryset=Contact.objects.none(),
        error_messages={
            "required": _("请选择发送消息的客户联系人。"),
            "invalid_choice": _("该联系人不是本群成员，请先将其加入本群。"),
        },
    )
    text = forms.CharField(
        label=_("消息内容"),
        max_length=MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写消息内容。")},
    )
    sent_at = _datetime_field(_("发送时间"), _("留空为现在。"))
    is_inquiry = forms.ChoiceField(
        label=_("咨询/诉求"),
        choices=INQUIRY_CHOICES,
        initial="auto",
        help_text=_("自动判断：含问号、疑问词或停电、电费、报修等事项即视为咨询。"),
    )

    def __init__(self, *args, group: ServiceGroup, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = selectors.member_contacts(group=group)
        self._style_widgets()

    def service_fields(self) -> dict:
        choice = self.cleaned_data["is_inquiry"]
        return {
            "contact": self.cleaned_data["contact"],
            "text": self.cleaned_data["text"],
            "sent_at": self.cleaned_data.get("sent_at"),
            "is_inquiry": None if choice == "auto" else choice == "yes",
        }


class InquiryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: GroupMessage) -> str:
        return f"{obj.sender_name}：{obj.text[:40]}"


class ReplyForm(StyledFormMixin, forms.Form):
    inquiry = InquiryChoiceField(
        label=_("答复的咨询"),
        queryset=GroupMessage.objects.none(),
        required=False,
        empty_label=_("不针对具体咨询（一般发言）"),
        error_messages={"invalid_choice": _("该咨询已回复或不属于本群，请刷新页面后重新选择。")},
    )
    all_of_customer = forms.BooleanField(label=_("同时答复该客户在本群的其他未回复咨询"), required=False)
    text = forms.CharField(
        label=_("回复内容"),
        max_length=MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "id": "reply-text"}),
        error_messages={"required": _("请填写回复内容。")},
    )

    def __init__(self, *args, group: ServiceGroup, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inquiry"].queryset = (
            GroupMessage.objects.unanswered().filter(group=group).order_by("response_due_at", "id")
        )
        self._style_widgets()

    def service_fields(self) -> dict:
        inquiry = self.cleaned_data.get("inquiry")
        fields = {"text": self.cleaned_data["text"]}
        if inquiry and self.cleaned_data.get("all_of_customer") and inquiry.customer_id:
            fields["customer"] = inquiry.customer
        elif inquiry:
            fields["inquiry"] = inquiry
        return fields


# --- Broadcasts and templates ------------------------------------------------------------


class GroupsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: ServiceGroup) -> str:
        return with_detail(obj.name, obj.get_kind_display())


class BroadcastForm(StyledFormMixin, forms.Form):
    topic = forms.ChoiceField(
        label=_("主题"), choices=BroadcastTopic.choices, error_messages={"required": _("请选择主题。")}
    )
    title = forms.CharField(label=_("标题"), max_length=100, error_messages={"required": _("请填写标题。")})
    body = forms.CharField(
        label=_("正文"),
        max_length=TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("用通俗易懂的语言；分享文章时附上简短的文字说明。"),
        error_messages={"required": _("请填写正文；分享文章时请附上简短的文字说明。")},
    )
    groups = GroupsField(
        label=_("目标客户群"),
        queryset=ServiceGroup.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("请至少选择一个客户群。"),
            "invalid_choice": _("只能发送到您可见且未归档的客户群。"),
        },
    )
    scheduled_at = _datetime_field(_("计划发布时间"), _("留空则立即发布。"))
    forward_to_important = forms.BooleanField(
        label=Broadcast._meta.get_field("forward_to_important").verbose_name,
        required=False,
        initial=True,
        help_text=Broadcast._meta.get_field("forward_to_important").help_text,
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = selectors.broadcast_groups_for(user)
        self._style_widgets()

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["groups"] = list(data["groups"])
        return data


class ReplyTemplateForm(StyledFormMixin, forms.Form):
    title = forms.CharField(label=_("标题"), max_length=100, error_messages={"required": _("请填写标题。")})
    category = forms.ChoiceField(
        label=_("分类"), choices=ReplyCategory.choices, error_messages={"required": _("请选择分类。")}
    )
    body = forms.CharField(
        label=_("话术内容"),
        max_length=TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("请填写话术内容。")},
    )
    org_unit = forms.ModelChoiceField(
        label=_("共享单位"),
        queryset=OrgUnit.objects.none(),
        help_text=_("本单位及下级单位的人员都可使用。"),
        error_messages={"required": _("请选择共享单位。"), "invalid_choice": _("请从列表中选择共享单位。")},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = selectors.template_units_for(user)
        self.fields["org_unit"].initial = user.org_unit_id
        self._style_widgets()


class LinkContactForm(forms.Form):
    """Which archive contact an unlinked WeCom customer is (the view scopes the id)."""

    contact = forms.IntegerField(
        label=_("联系人"),
        min_value=1,
        max_value=2**63 - 1,
        error_messages={
            key: _("请选择要关联的联系人。") for key in ("required", "invalid", "min_value", "max_value")
        },
    )
