"""Response headers every view shares."""

from django.conf import settings
from django.utils.cache import patch_cache_control


class PrivateNoStoreMiddleware:
    """`Cache-Control: no-store, private` on every answer to a signed-in user.

    Pages, exports, attachments and the API all carry customers' names and
    phone numbers once someone is signed in; no browser cache, proxy or shared
    disk may keep them. The user is read after the view, so an API request
    signed by a token counts too (DRF sets the user on the underlying
    request). Static files never get here (whitenoise answers first), and a
    request with neither a session cookie nor credentials (a load balancer's
    health check) is left as it is, without even loading a session.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not (request.COOKIES.get(settings.SESSION_COOKIE_NAME) or "Authorization" in request.headers):
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
