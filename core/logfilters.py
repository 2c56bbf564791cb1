"""A last line of defence for personal data in logs (ARCHITECTURE rule 11).

Code logs ids, never numbers; but a library may not (Django's SQL log with
DEBUG on, an exception text). The console handler runs every record through
MaskMobileNumbers, which masks mainland mobile numbers in the final message.
"""

import logging
import re

from core.phones import mask_phone

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


class MaskMobileNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if MOBILE.search(message):
            record.msg = MOBILE.sub(lambda match: mask_phone(match.group()), message)
            record.args = None
        return True
