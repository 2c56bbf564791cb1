"""Keyset pagination for API lists (ARCHITECTURE rule 6): no COUNT(*), no OFFSET."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination

from core.api.fields import MAX_PAGE_LIMIT, PageLimitField


class KeysetPagination(CursorPagination):
    """Newest first by id; `?cursor=` comes from the `next`/`previous` links, `?limit=` up to 1,000.

    A `limit` that is no whole number from 1 is a 400 (not silently the
    default page), and so is one above 1,000 (code `limit_too_large`, the rule
    of core.api.fields.PageLimitField that the sync feed shares). A cursor the
    list did not issue is a 400 too (DRF answers 404, as if the list were missing).

    A view may read a list in id order unit by unit (a supervisor's scope, as
    its list page does) by defining `rows_by_unit(queryset, order, count)`: the
    first `count` rows of `queryset` ordered by `order` ("pk" or "-pk"), as a
    queryset of those rows alone, or None where that read does not apply. The
    page is then DRF's page of those rows, which is the page of the whole list:
    the same rows, cursors and links.
    """

    ordering = "-id"
    page_size_query_param = "limit"
    max_page_size = MAX_PAGE_LIMIT

    def get_page_size(self, request):
        self.page_size = settings.API_PAGE_SIZE
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            return PageLimitField().run_validation(raw)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({self.page_size_query_param: exc.detail}) from None

    def paginate_queryset(self, queryset, request, view=None):
        # What a cursor's position must be: a value of the field the list is ordered by.
        self.position_field = queryset.model._meta.get_field(
            self.get_ordering(request, queryset, view)[0].lstrip("-")
        )
        rows_by_unit = getattr(view, "rows_by_unit", None)
        if rows_by_unit is not None:
            queryset = self.narrowed_to_page(queryset, request, view, rows_by_unit)
        return super().paginate_queryset(queryset, request, view)

    def narrowed_to_page(self, queryset, request, view, rows_by_unit):
        """`queryset` cut to the rows DRF's read of this page can reach (past the
        cursor's position, up to its offset plus a page and one), read by
        `rows_by_unit`; `queryset` as it is when the list is not in id order or
        `rows_by_unit` does not apply. Reads the request as DRF's paginate_queryset
        does, in the same order, so a bad limit or cursor gets the same 400."""
        page_size = self.get_page_size(request)
        ordering = self.get_ordering(request, queryset, view)
        cursor = self.decode_cursor(request)
        if not page_size or ordering not in (("id",), ("-id",)):
            return queryset
        offset, reverse, position = cursor if cursor is not None else (0, False, None)
        # As DRF reads a page: the ordering, turned round for a `previous` link.
        descending = ordering[0].startswith("-") != reverse
        rows = queryset
        if position is not None:
            try:
                position = int(position)
            except ValueError:
                return queryset  # DRF's own read answers it as it always has
            rows = rows.filter(pk__lt=position) if descending else rows.filter(pk__gt=position)
        firsts = rows_by_unit(rows, "-pk" if descending else "pk", offset + page_size + 1)
        return queryset if firsts is None else firsts

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise serializers.ValidationError({self.cursor_query_param: [exc.detail]}) from None
        if cursor is not None and cursor.position is not None and not self._position_valid(cursor.position):
            # A cursor edited by hand (p=abc, or past the column's range) would fail in the query.
            raise serializers.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})
        return cursor

    def _position_valid(self, position: str) -> bool:
        field = getattr(self, "position_field", None)
        if field is None:
            return True
        try:
            value = field.to_python(position)
        except DjangoValidationError:
            return False
        if isinstance(value, int):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            return (low is None or value >= low) and (high is None or value <= high)
        return True

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["schema"]["maximum"] = self.max_page_size
                parameter["description"] = (
                    f"Number of results per page, from 1 to {self.max_page_size} (default "
                    f"{settings.API_PAGE_SIZE}); more is a 400 with the code `limit_too_large`."
                )
        return parameters
