"""Response headers every view shares."""

import hashlib

from django.conf import settings
from django.http import HttpResponseNotModified
from django.middleware.gzip import GZipMiddleware
from django.utils.cache import patch_cache_control
from rest_framework.authentication import TokenAuthentication

from core.api.etag import etag_in
from core.api.throttling import STATE_ATTRIBUTE, rate_limit_headers


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


API_PREFIX = "/api/"


def _token_signed(request) -> bool:
    return request.headers.get("Authorization", "").startswith(f"{TokenAuthentication.keyword} ")


class TokenApiGZipMiddleware(GZipMiddleware):
    """Gzip for API answers to token-signed requests only (`Accept-Encoding: gzip`).

    BREACH recovers a secret from the compressed size of pages that also
    reflect what an attacker put in the request, replayed by the victim's
    browser with its cookies. A request signed with an `Authorization: Token`
    header is made by a program, never by a browser on an attacker's page,
    so compressing its answer gives nothing away; pages and session-signed API
    calls (CSRF tokens, cookies) stay uncompressed. A 1,000-row sync page
    shrinks about tenfold.
    """

    def process_response(self, request, response):
        if not (request.path.startswith(API_PREFIX) and _token_signed(request)):
            return response
        if not response.get("Content-Type", "").startswith("application/json"):
            return response
        return super().process_response(request, response)


class ApiHeadersMiddleware:
    """What every API answer says besides its body.

    - Rate limits: the `RateLimit` and `RateLimit-Policy` fields of the
      throttles that counted the request (core.api.throttling), also on a 429.
    - ETag of lists: a successful GET that has no ETag of its own (lists, the
      sync feed) gets a weak ETag of its body, and `If-None-Match` naming it
      answers 304 without a body. The page is still read to know its ETag:
      the saving is the client's transfer and parsing, not the server's query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX):
            return response
        for name, value in rate_limit_headers(getattr(request, STATE_ATTRIBUTE, [])).items():
            response[name] = value
        if (
            request.method in ("GET", "HEAD")
            and response.status_code == 200
            and not response.streaming
            and not response.has_header("ETag")
        ):
            etag = f'W/"{hashlib.sha256(response.content).hexdigest()[:32]}"'
            response["ETag"] = etag
            if etag_in(request.headers.get("If-None-Match"), etag.removeprefix("W/")):
                not_modified = HttpResponseNotModified()
                for name in ("ETag", "Cache-Control", "Vary", "RateLimit", "RateLimit-Policy"):
                    if response.has_header(name):
                        not_modified[name] = response[name]
                return not_modified
        return response
