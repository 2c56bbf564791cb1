"""Filter types shared by the filter sets of the API and of the list pages.

Each model has one filter set (`<app>/filtersets.py`) whose parameters are the
API's; a list page subclasses it with `PageFilterMixin` to name its own filter
bar's parameters and widgets.
"""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import ChoiceField, IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters as drf_filters
from rest_framework import serializers

from core.text import validate_text
from core.validation import moment_refusal, validate_moment

# Real time zones lie within UTC-12:00 … UTC+14:00; PostgreSQL refuses
# offsets beyond ±15:59, so anything wider is bad input, not a server error.
MAX_UTC_OFFSET = timedelta(hours=14)
# The same rule for the schema: an RFC 3339 date-time whose offset lies within ±14:00.
MOMENT_PATTERN = r"([Zz]|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
# Ids are PostgreSQL bigints at most; larger numbers name nothing and are bad input.
MAX_ID = 2**63 - 1


class MomentField(IsoDateTimeField):
    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except OverflowError:
            # Year 1 with a positive offset has no UTC instant at all.
            raise moment_refusal() from None
        if moment is not None:
            # At the calendar's edge the query's conversion to UTC overflows (a 500, not a 400).
            validate_moment(moment)
        offset = moment.utcoffset() if moment is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(_("时区偏移超出范围（应在 -12:00 到 +14:00 之间）。"), code="invalid")
        return moment


def _document(filter_: filters.Filter, schema: dict) -> None:
    """The filter's schema in OpenAPI, keeping its label as the parameter's description."""
    extend_schema_field({**schema, "description": str(filter_.label or "")})(filter_)


class MomentFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that refuses impossible time-zone offsets with a 400."""

    field_class = MomentField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _document(self, {"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN})


def moment_after(field_name: str, label: str) -> MomentFilter:
    """Rows whose `field_name` is at or after the moment (the inclusive end of a range)."""
    return MomentFilter(field_name=field_name, lookup_expr="gte", label=label)


def moment_before(field_name: str, label: str) -> MomentFilter:
    """Rows whose `field_name` is before the moment (exclusive, so `_after` X and `_before` X
    split the rows without overlap)."""
    return MomentFilter(field_name=field_name, lookup_expr="lt", label=label)


class CharInFilter(filters.BaseInFilter, filters.CharFilter):
    """Comma-separated texts (`?number=A1,B2`)."""


class ChoiceInFilter(filters.BaseInFilter, filters.ChoiceFilter):
    """Comma-separated choices (`?status=planned,ongoing`); an unknown one is a 400."""


class IdInFilter(filters.BaseInFilter, filters.NumberFilter):
    """Comma-separated object ids (`?staff_id=3,5`): whole numbers, else a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _document(self, {"type": "integer"})

    def filter(self, qs, value):
        # An id beyond a bigint names nothing; PostgreSQL would refuse to compare it.
        if value and not any(abs(id_) <= MAX_ID for id_ in value):
            return qs.none()
        return super().filter(qs, [id_ for id_ in value if abs(id_) <= MAX_ID] if value else value)


_BOOLEAN_WORDS = frozenset({"true", "false", "1", "0"})


class ApiFilterSet(filters.FilterSet):
    """A filter set that refuses what its filters would otherwise ignore.

    django-filter drops an empty value (`?done=`) and reads an unknown word
    for a boolean (`?done=maybe`) as "no filter"; the API documents typed
    parameters, so those are 400s. Text filters and comma-separated lists
    still take an empty value. A text parameter must be text (core.text): the
    API answers 400, a page ignores the value like any other invalid one.

    A multi-value filter takes its values comma-separated, repeated or both:
    `?station=A&station=B,C` is `?station=A,B,C`, any of them (OR); Django's
    QueryDict would hand the filter only the last.
    """

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and hasattr(data, "getlist"):
            repeated = {
                name: ",".join(data.getlist(name))
                for name, filter_ in self.base_filters.items()
                if isinstance(filter_, filters.BaseCSVFilter) and len(data.getlist(name)) > 1
            }
            if repeated:
                data = data.copy()
                for name, joined in repeated.items():
                    data[name] = joined
        super().__init__(data, *args, **kwargs)

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            for field in form.fields.values():
                if isinstance(field, forms.CharField):
                    field.validators.append(validate_text)
        return super().form

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if name not in self.data:
                continue
            value = self.data.get(name)
            # An empty list (`?kind=`) is a list all the same.
            if value == "" and not isinstance(filter_, (filters.CharFilter, filters.BaseCSVFilter)):
                self.form.add_error(name, forms.Field.default_error_messages["required"])
                valid = False
            elif isinstance(filter_, filters.BooleanFilter) and str(value).lower() not in _BOOLEAN_WORDS:
                self.form.add_error(name, serializers.BooleanField.default_error_messages["invalid"])
                valid = False
        return valid


class FilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend, leaving the bound filter set on the view as
    `view.filterset`: how a view reads the filtered rows may depend on what a
    filter found (tickets.search: an order search's few matches are read whole)."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        view.filterset = filterset
        return filterset


class OrderingFilter(drf_filters.OrderingFilter):
    """`?ordering=name,-created_at` over the view's `ordering_fields` only; another name is a 400.

    DRF drops a field it does not know and answers in the default order, as if
    the request had been honoured. The id, in the direction of the last field,
    breaks ties, so a cursor walks a stable order. Without the parameter the
    list keeps the view's `ordering`, else its paginator's.
    """

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw is None or not getattr(view, "ordering_fields", None):
            return self.get_default_ordering(view) or self._paginator_ordering(view)
        fields = [term.strip() for term in raw.split(",") if term.strip()]
        allowed = set(view.ordering_fields)
        bad = [term for term in fields if term.lstrip("-") not in allowed]
        if bad or not fields:
            raise serializers.ValidationError(
                {
                    self.ordering_param: [
                        _("只能按以下字段排序：%(fields)s。") % {"fields": ", ".join(view.ordering_fields)}
                    ]
                },
                code="invalid_ordering",
            )
        if not any(term.lstrip("-") == "id" for term in fields):
            fields.append("-id" if fields[-1].startswith("-") else "id")
        return tuple(fields)

    @staticmethod
    def _paginator_ordering(view):
        ordering = getattr(getattr(view, "paginator", None), "ordering", None)
        return (ordering,) if isinstance(ordering, str) else ordering

    def get_schema_operation_parameters(self, view):
        fields = getattr(view, "ordering_fields", None)
        if not fields:
            return []
        choices = [f"{sign}{name}" for name in fields for sign in ("", "-")]
        names = "|".join(fields)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": (
                    "Order of the list: comma-separated fields, `-` before a field for descending. "
                    f"Fields: {', '.join(choices)}. Ties are broken by id. Default: newest first (-id)."
                ),
                "schema": {"type": "string", "pattern": rf"^-?({names})(,-?({names}))*$"},
            }
        ]


# --- List pages ----------------------------------------------------------------------------


class YesNoField(ChoiceField):
    def clean(self, value):
        value = super().clean(value)
        return None if value in EMPTY_VALUES else value == "1"


class YesNoFilter(filters.ChoiceFilter):
    """A page's select of "1" (yes) or "0" (no), read as True or False: the same
    value a boolean filter of the API hands the filter's method."""

    field_class = YesNoField

    def __init__(self, *, yes, no, **kwargs):
        super().__init__(choices=[("1", yes), ("0", no)], **kwargs)


class PageFilterMixin:
    """The list page's form of a model's filter set.

    `page_filters` names the page's parameters in the order of its filter bar;
    the API's other parameters are not read. A bad value is ignored rather than
    refused: the page reads `.qs`, which filters on the values that were valid.
    The form's widgets carry Bootstrap's classes; `q` is a search box.
    """

    page_filters: tuple[str, ...] = ()
    search_placeholder = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: self.filters[name] for name in self.page_filters}

    @property
    def form(self):
        form = super().form
        for field in form.fields.values():
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
        if "q" in form.fields:
            form.fields["q"].widget.attrs.setdefault("placeholder", self.search_placeholder)
            form.fields["q"].widget.input_type = "search"
        return form
