"""{{ number|tel }}: a phone number as a tap-to-call link.

A masked number (135****1234) is shown as text: it cannot be dialled, and a link
would only invite a wrong call.
"""

import re

from django import template
from django.utils.html import format_html

register = template.Library()

_DIALLABLE = re.compile(r"^\+?[\d\s()-]{3,}$")


@register.filter
def tel(value):
    text = str(value or "").strip()
    if not text or not _DIALLABLE.match(text):
        return value or ""
    dial = re.sub(r"[^\d+]", "", text)
    return format_html('<a class="tel-link text-nowrap" href="tel:{}">{}</a>', dial, text)
