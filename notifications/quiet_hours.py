"""Quiet hours for SMS: no advance notice reaches a phone at night.

SMS_QUIET_HOURS is a daily window in the site's time zone (default
22:00-07:00, possibly across midnight). Only rows marked `quiet` (advance
notices) wait; fault and restoration notices go at once.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone


def quiet_hours_end(moment: datetime, window: tuple[time, time] | None = None) -> datetime:
    """`moment` itself when outside the quiet window, else the end of the window it falls in."""
    window = window if window is not None else settings.SMS_QUIET_HOURS
    if not window:
        return moment
    start, end = window
    local = timezone.localtime(moment)
    clock = local.time()
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    elif clock >= start:
        inside, end_day = True, local.date() + timedelta(days=1)
    else:
        inside, end_day = clock < end, local.date()
    if not inside:
        return moment
    return timezone.make_aware(datetime.combine(end_day, end), local.tzinfo)
