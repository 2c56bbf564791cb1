"""Keyset pagination for API lists (ARCHITECTURE rule 6): no COUNT(*), no OFFSET."""

from django.conf import settings
from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    """Newest first by id; `?cursor=` comes from the `next`/`previous` links, `?limit=` up to 1,000."""

    ordering = "-id"
    page_size_query_param = "limit"
    max_page_size = 1000

    def get_page_size(self, request):
        self.page_size = settings.API_PAGE_SIZE
        return super().get_page_size(request)
