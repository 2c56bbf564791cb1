from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from outages import services
from outages.models import OutageNotice, OutageStatus
from tests.groups.conftest import local


def plan(outage) -> dict[str, object]:
    return dict(outage.notices.filter(cancelled_at__isnull=True).values_list("kind", "due_at"))


@time_machine.travel(local(2026, 6, 1, 9), tick=False)
def test_planned_outage_gets_advance_and_start_notices(grid, populate, planned):
    populate(grid["d1"], 1)
    start = local(2026, 6, 11, 8)
    outage = services.outage_publish(
        outage=planned(planned_start=start, planned_end=start + timedelta(hours=6))
    )
    assert outage.status == OutageStatus.PUBLISHED
    assert plan(outage) == {
        "advance-7d": local(2026, 6, 4, 8),
        "advance-1d": local(2026, 6, 10, 8),
        "start": start,
    }


@time_machine.travel(local(2026, 6, 1, 9), tick=False)
def test_advance_notices_already_past_are_skipped(grid, populate, planned):
    populate(grid["d1"], 1)
    start = local(2026, 6, 3, 8)
    outage = services.outage_publish(
        outage=planned(planned_start=start, planned_end=start + timedelta(hours=6))
    )
    assert plan(outage) == {"advance-1d": local(2026, 6, 2, 8), "start": start}


@time_machine.travel(local(2026, 6, 1, 9), tick=False)
def test_an_outage_published_later_than_the_last_advance_notice_is_announced_at_once(grid, populate, planned):
    populate(grid["d1"], 1)
    start = local(2026, 6, 1, 20)
    outage = services.outage_publish(
        outage=planned(planned_start=start, planned_end=start + timedelta(hours=6))
    )
    assert plan(outage) == {"advance-1d": timezone.now(), "start": start}


@time_machine.travel(local(2026, 6, 1, 9), tick=False)
def test_advance_days_are_configurable(settings, grid, populate, planned):
    settings.OUTAGE_ADVANCE_NOTICE_DAYS = [3]
    populate(grid["d1"], 1)
    start = local(2026, 6, 11, 8)
    outage = services.outage_publish(
        outage=planned(planned_start=start, planned_end=start + timedelta(hours=6))
    )
    assert set(plan(outage)) == {"advance-3d", "start"}


@time_machine.travel(local(2026, 6, 1, 9), tick=False)
def test_fault_gets_a_start_notice_at_once_then_delays_and_restoration(grid, populate, fault):
    populate(grid["d1"], 1)
    outage = services.outage_publish(outage=fault())
    assert plan(outage) == {"start": timezone.now()}
    services.outage_update_estimate(outage=outage, estimated_restoration=local(2026, 6, 1, 15))
    services.outage_update_estimate(outage=outage, estimated_restoration=local(2026, 6, 1, 15))
    assert outage.notices.filter(kind__startswith="delay-").count() == 1
    services.outage_update_estimate(outage=outage, estimated_restoration=local(2026, 6, 1, 17))
    assert set(plan(outage)) == {"start", "delay-1", "delay-2"}
    outage = services.outage_restore(outage=outage)
    assert outage.status == OutageStatus.RESTORED
    assert "restored" in plan(outage)
    with pytest.raises(ValidationError):
        services.outage_update_estimate(outage=outage, estimated_restoration=local(2026, 6, 1, 19))


def test_estimate_before_publishing_plans_no_delay(fault):
    outage = fault()
    services.outage_update_estimate(outage=outage, estimated_restoration=timezone.now() + timedelta(hours=9))
    assert not outage.notices.exists()


def test_cancel_before_anyone_was_told_sends_nothing(grid, populate, planned):
    populate(grid["d1"], 1)
    outage = services.outage_publish(outage=planned())
    outage = services.outage_cancel(outage=outage)
    assert outage.status == OutageStatus.CANCELLED
    assert plan(outage) == {}
    assert services.fan_out_due() == 0


def test_cancel_after_the_advance_notice_tells_those_already_told(grid, populate, planned):
    populate(grid["d1"], 2, sensitive=1)
    outage = services.outage_publish(outage=planned())
    with time_machine.travel(outage.planned_start - timedelta(days=7), tick=False):
        assert services.fan_out_due() == 1
    outage = services.outage_cancel(outage=outage)
    assert set(plan(outage)) == {"advance-7d", "cancelled"}
    assert outage.notices.get(kind="advance-1d").cancelled_at is not None
    assert services.fan_out_due() == 1
    notice = outage.notices.get(kind=OutageNotice.CANCELLED)
    # Without a WeCom group both were told the advance notice by SMS: both hear of the cancellation.
    assert notice.fanned_out_at is not None and notice.personal_count == 2


def test_started_outage_cannot_be_cancelled(grid, populate, planned):
    populate(grid["d1"], 1)
    outage = services.outage_start(outage=services.outage_publish(outage=planned()))
    with pytest.raises(ValidationError):
        services.outage_cancel(outage=outage)
