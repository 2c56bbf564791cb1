"""A last line of defence for personal data in logs (ARCHITECTURE rule 11).

Code logs ids, never numbers; but a library may not (Django's SQL log with
DEBUG on, an exception text, urllib3's request line at DEBUG). The console
handler runs every record through MaskMobileNumbers, which masks mainland
mobile numbers and credentials passed in URL query strings in the final message.
"""

import logging
import re

from core.phones import mask_phone

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# Credentials that APIs take in the query string (WeCom's gettoken and every
# call after it); urllib3 logs request URLs at DEBUG.
URL_SECRET = re.compile(r"(\b(?:access_token|corpsecret|secret|key)=)[^&\s\"']+", re.IGNORECASE)


class MaskMobileNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = URL_SECRET.sub(r"\1***", message)
        if MOBILE.search(masked):
            masked = MOBILE.sub(lambda match: mask_phone(match.group()), masked)
        if masked != message:
            record.msg = masked
            record.args = None
        return True
