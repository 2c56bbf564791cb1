"""Phone numbers: masking for people who do not own the customer (ARCHITECTURE rule 11)."""

import re

_DIGITS = re.compile(r"\d")


def mask_phone(value: str | None) -> str:
    """135****1234 for mobiles; keep the area code and last four of a landline."""
    if not value:
        return ""
    digits = _DIGITS.findall(value)
    if len(digits) < 7:
        return "*" * len(value)
    if len(digits) == 11 and value.startswith("1"):
        return f"{value[:3]}****{value[-4:]}"
    keep_head = value.index("-") + 1 if "-" in value else 3
    return f"{value[:keep_head]}{'*' * (len(value) - keep_head - 4)}{value[-4:]}"
