"""How a measured length of time is shown on the dashboard and in its export."""

import pytest

from core.durations import duration_figure


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, (None, "")),
        (20, (0.3, "分钟")),
        (150, (2.5, "分钟")),
        (12 * 60 + 10, (12, "分钟")),
        (119 * 60, (119, "分钟")),
        (2 * 3600, (2.0, "小时")),
        (5.4 * 3600, (5.4, "小时")),
        (3 * 24 * 3600, (72.0, "小时")),
    ],
)
def test_minutes_below_two_hours_hours_from_there(seconds, expected):
    assert duration_figure(seconds) == expected
