"""Reach tests use the outage grid: two lines of 雷山供电所, three districts."""

from tests.outages.conftest import crm_only_group, district_group, fault, grid, planned, populate  # noqa: F401
