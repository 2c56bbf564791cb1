"""Drill fixtures: the outbox's local HTTP endpoint and the outage grid (shared with their own
tests), and a directory for the logs of the processes a drill starts."""

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.notifications import conftest as outbox_fixtures
from tests.outages import conftest as outage_fixtures

http_endpoint = outbox_fixtures.http_endpoint
grid = outage_fixtures.grid
populate = outage_fixtures.populate


@pytest.fixture
def drill_dir():
    """A directory of the drill's own: pytest's tmp_path may be pruned by another
    pytest run on the machine while a drill's processes still write their logs."""
    path = Path(tempfile.mkdtemp(prefix="crm-drill-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
