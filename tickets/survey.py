"""The customer's own rating (自助评价): the signed link an SMS carries, and its rate limit.

A link names one return visit, signed with the site's secret (django.core.signing),
so it cannot be guessed or altered; it expires after TICKET_SURVEY_DAYS and is
spent once the visit is recorded (tickets.services.ticket_rate_by_customer).
"""

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.urls import reverse

_SALT = "tickets.survey"


def survey_token(visit_id: int) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(str(visit_id))


def survey_url(visit_id: int) -> str:
    return settings.SITE_URL + reverse("tickets:survey", args=[survey_token(visit_id)])


class SurveyLinkInvalid(Exception):
    """Tampered, unknown or expired: the page says so and changes nothing."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def survey_visit_id(token: str) -> int:
    """The return visit a link names; SurveyLinkInvalid when forged or past TICKET_SURVEY_DAYS."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(
            str(token), max_age=settings.TICKET_SURVEY_DAYS * 24 * 3600
        )
    except signing.SignatureExpired:
        raise SurveyLinkInvalid(expired=True) from None
    except signing.BadSignature:
        raise SurveyLinkInvalid() from None
    if not value.isdigit():
        raise SurveyLinkInvalid()
    return int(value)


def survey_rate_exceeded(address: str | None) -> bool:
    """Counts a request from `address`; True past TICKET_SURVEY_RATE_LIMIT requests in
    TICKET_SURVEY_RATE_WINDOW_SECONDS (the shared cache, so every web process counts)."""
    key = f"tickets:survey-rate:{address or 'unknown'}"
    window = settings.TICKET_SURVEY_RATE_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return False
    return count > settings.TICKET_SURVEY_RATE_LIMIT
