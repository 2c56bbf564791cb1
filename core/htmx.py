"""Telling a request htmx sent to swap part of a page from one for the whole page."""

from django.http import HttpRequest


def is_htmx(request: HttpRequest) -> bool:
    """True when htmx asks for a fragment to swap in.

    A history restore (the back button on a page htmx had changed, when its
    history cache no longer holds the page) also carries HX-Request, but it
    replaces the whole body, so it gets the full page.
    """
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")
