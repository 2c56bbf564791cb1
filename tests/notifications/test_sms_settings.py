"""SMS settings fail loudly at start-up on a value they cannot use."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_with(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter, as a process start-up does."""
    return subprocess.run(
        [sys.executable, "-c", "import crm.settings"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("SMS_PROVIDER", "nexmo"), ("SMS_QUIET_HOURS", "22-7"), ("SMS_QUIET_HOURS", "07:00-07:00")],
)
def test_a_bad_value_stops_start_up_naming_the_variable(name, value):
    result = start_with(**{name: value})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr


@pytest.mark.parametrize("provider", ["gateway", "aliyun", "tencent", "Aliyun"])
def test_each_provider_starts(provider):
    assert start_with(SMS_PROVIDER=provider, SMS_QUIET_HOURS="").returncode == 0
