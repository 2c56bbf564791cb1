"""Typed readers for settings from the environment.

Each helper fails loudly with ImproperlyConfigured on a value it cannot read,
so a typo in a deployment stops the process at start-up instead of running
with a silent default.
"""

import os
import re
from datetime import time

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


_DAILY_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


def env_daily_window(name: str, default: str = "") -> tuple[time, time] | None:
    """A daily window "22:00-07:00" as (start, end); it may run across midnight. Empty means none."""
    raw = os.environ.get(name, default).strip()
    if not raw:
        return None
    match = _DAILY_WINDOW.fullmatch(raw.replace(" ", ""))
    if not match or match.group(1, 2) == match.group(3, 4):
        raise ImproperlyConfigured(f"{name} must look like 22:00-07:00 (start and end differ), got {raw!r}")
    return time(int(match.group(1)), int(match.group(2))), time(int(match.group(3)), int(match.group(4)))
