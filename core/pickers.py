"""Searchable pickers: choices among thousands without thousands of <option>s.

A prefecture's districts, lines and staff do not fit in a page. A picker is a
plain <select> that holds only the chosen option(s) (and the empty one), with
a search box before it (static/js/picker.js). Typing asks a small JSON
endpoint for at most PICKER_LIMIT matches among the user's choices and puts
them in the select; the user then picks in the select as in any other.
Without JavaScript the search box stays hidden and the select still shows and
submits the chosen value. Validation is the form field's, against the same
scoped queryset the endpoint reads: an id out of scope is a field error.

`picker_response` answers such an endpoint:
`{"results": [{"id": 1, "text": "..."}], "more": false}`; bad parameters
(a control character, a term too long, a bad id) get a 400 of the API's shape
`{"code", "detail", "errors": {field: [{"message", "code"}]}}`.
"""

from collections.abc import Callable, Iterable

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.text import validate_text

PICKER_LIMIT = 20
# A name or a code is short: a longer term matches nothing and is refused.
PICKER_TERM_LENGTH = 50
MAX_ID = 2**31 - 1


class PickerWidgetMixin:
    """A select of a ModelChoiceField (or a filter's) that renders only the chosen options.

    `url` names the endpoint (a URL name). `params` maps an endpoint parameter
    to another field of the same form whose value is sent along (the lines of
    the chosen district); when that field changes, the choices are asked again
    and a chosen option that is no longer among them is cleared.
    """

    def __init__(self, url: str, *, params: dict[str, str] | None = None, attrs=None):
        super().__init__(attrs=attrs)
        self.url = url
        self.params = params or {}

    def __deepcopy__(self, memo):
        obj = super().__deepcopy__(memo)
        obj.url, obj.params = self.url, dict(self.params)
        return obj

    def _field(self):
        return getattr(self.choices, "field", None)

    def use_required_attribute(self, initial) -> bool:
        # Select's own check reads the first choice, which would query the whole list.
        field = self._field()
        has_empty = field is not None and getattr(field, "empty_label", None) is not None
        return forms.Widget.use_required_attribute(self, initial) and (
            self.allow_multiple_selected or has_empty
        )

    def optgroups(self, name, value, attrs=None):
        """The empty choice and the chosen ones only: one query, for the chosen ids."""
        field = self._field()
        chosen = [str(v) for v in value if v not in ("", None)]
        options: list[tuple] = []
        if field is not None and not self.allow_multiple_selected and field.empty_label is not None:
            options.append(("", field.empty_label))
        ids = [int(v) for v in chosen if v.isascii() and v.isdigit() and 0 < int(v) <= MAX_ID]
        if field is not None and ids:
            options.extend(self.choices.choice(obj) for obj in field.queryset.filter(pk__in=ids))
        groups = []
        for index, (option_value, label) in enumerate(options):
            selected = str(option_value) in chosen or (option_value == "" and not chosen)
            groups.append(
                (None, [self.create_option(name, option_value, label, selected, index, attrs=attrs)], index)
            )
        return groups

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        own_id = widget_attrs.get("id", "")
        widget_attrs["data-picker"] = reverse(self.url)
        if self.params and own_id.endswith(name.rpartition("-")[2]):
            # A sibling field's id: the same prefix, that field's name.
            stem = own_id[: len(own_id) - len(name.rpartition("-")[2])]
            widget_attrs["data-picker-params"] = ",".join(
                f"{param}={stem}{field}" for param, field in self.params.items()
            )
        return context

    def render(self, name, value, attrs=None, renderer=None):
        select = super().render(name, value, attrs, renderer)
        own_id = (attrs or {}).get("id") or self.attrs.get("id") or ""
        field = self._field()
        label = getattr(field, "label", "") or ""
        return format_html(
            '<div class="picker">'
            '<input type="search" class="form-control form-control-sm mb-1 picker-search" hidden '
            'autocomplete="off" data-picker-search="{}" aria-label="{}" placeholder="{}" '
            'data-found="{}" data-none="{}" data-failed="{}">'
            "{}"
            '<div class="form-text picker-status" aria-live="polite"></div>'
            "</div>",
            own_id,
            _("搜索%(label)s") % {"label": label} if label else _("搜索"),
            _("输入名称或编码搜索"),
            _("找到 %(count)s 项，请在下方列表中选择。"),
            _("没有匹配的选项，请换个关键字。"),
            _("暂时无法搜索，请稍后重试。"),
            select,
        )


class PickerSelect(PickerWidgetMixin, forms.Select):
    pass


class PickerSelectMultiple(PickerWidgetMixin, forms.SelectMultiple):
    pass


def _params_form(filters: Iterable[str]) -> type[forms.Form]:
    fields = {
        "q": forms.CharField(
            required=False,
            max_length=PICKER_TERM_LENGTH,
            validators=[validate_text],
            error_messages={"max_length": gettext_lazy("关键字最多 %(limit_value)d 个字符。")},
        )
    }
    for name in filters:
        fields[name] = forms.IntegerField(
            required=False,
            min_value=1,
            max_value=MAX_ID,
            error_messages={"invalid": gettext_lazy("请输入有效的编号。")},
        )
    return type("PickerParams", (forms.Form,), fields)


def picker_response(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    search: Iterable[str],
    label: Callable[[object], str] = str,
    filters: dict[str, Callable[[QuerySet, int], QuerySet]] | None = None,
) -> JsonResponse:
    """At most PICKER_LIMIT rows of `queryset` (already scoped to the user) whose
    `search` fields contain `q`, narrowed by the given `filters` (parameter ->
    how an id narrows the rows). One query of rows, no count: one row more than
    shown says whether there are more."""
    filters = filters or {}
    params = _params_form(filters)(request.GET)
    if not params.is_valid():
        return JsonResponse(
            {
                "code": "validation_error",
                "detail": _("查询参数有误。"),
                "errors": params.errors.get_json_data(),
            },
            status=400,
        )
    term = params.cleaned_data["q"].strip()
    if term:
        condition = Q()
        for field in search:
            condition |= Q(**{f"{field}__icontains": term})
        queryset = queryset.filter(condition)
    for name, narrow in filters.items():
        if params.cleaned_data.get(name):
            queryset = narrow(queryset, params.cleaned_data[name])
    rows = list(queryset[: PICKER_LIMIT + 1])
    return JsonResponse(
        {
            "results": [{"id": row.pk, "text": label(row)} for row in rows[:PICKER_LIMIT]],
            "more": len(rows) > PICKER_LIMIT,
        }
    )
