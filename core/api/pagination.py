"""Keyset pagination for API lists (ARCHITECTURE rule 6): no COUNT(*), no OFFSET."""

from django.conf import settings
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination

from core.api.fields import MAX_PAGE_LIMIT, PageLimitField


class KeysetPagination(CursorPagination):
    """Newest first by id; `?cursor=` comes from the `next`/`previous` links, `?limit=` up to 1,000.

    A `limit` that is no whole number from 1 is a 400 (not silently the
    default page), and so is one above 1,000 (code `limit_too_large`, the rule
    of core.api.fields.PageLimitField that the sync feed shares). A cursor the
    list did not issue is a 400 too (DRF answers 404, as if the list were missing).
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

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise serializers.ValidationError({self.cursor_query_param: [exc.detail]}) from None

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
