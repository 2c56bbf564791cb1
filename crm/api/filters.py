"""Filter types shared by the API's filter sets."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

# Real time zones lie within UTC-12:00 … UTC+14:00; PostgreSQL refuses
# offsets beyond ±15:59, so anything wider is bad input, not a server error.
MAX_UTC_OFFSET = timedelta(hours=14)


class MomentField(IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        offset = moment.utcoffset() if moment is not None else None
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(_("时区偏移超出范围（应在 -12:00 到 +14:00 之间）。"), code="invalid")
        return moment


class MomentFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that refuses impossible time-zone offsets with a 400."""

    field_class = MomentField
