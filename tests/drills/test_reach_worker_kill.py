"""Drill: the Celery worker SIGKILLed in the middle of an outage notice's reach fan-out.

A fault outage over two districts — one with a WeCom-linked 台区群, one
without any — affects thousands of customers of every kind the policy tells
apart: sensitive (some 高敏), with and without a group, with a landline
only, with no contact at all. The worker fanning out the start notice is
killed (SIGKILL: no acks, an open transaction cut off) while the reach
records are being written, restarted, killed again, and then left to finish
the fan-out and deliver every SMS to a local HTTP gateway.

Then, for the notice:
- every affected customer has exactly one reach record, on the channel the
  policy gives them (checked here against the mix, not against the policy);
- every SMS outbox row exists exactly once, exactly for the customers who
  must get one, and was sent;
- the gateway received every SMS under its out_id (the Idempotency-Key), and
  nothing else. A kill between the gateway's answer and the row's UPDATE may
  post one SMS again with the same out_id, which the gateway absorbs: at most
  one such repeat per kill.
"""

import random
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Contact, Customer
from notifications.models import Notification
from notifications.tasks import deliver_due_notifications
from outages import services as outage_services
from outages.models import AffectedCustomer, OutageKind, OutageNotice
from outages.tasks import fan_out_notices
from reach.models import CallState, Channel, ReachRecord, Reason
from tests.celery_worker import send
from tests.drills.support import REDIS_URL, Stopwatch, dismiss, drill_worker, queue_length, worker_drill
from tests.outages.conftest import district_group  # noqa: F401  (a fixture)

pytestmark = worker_drill

# A dead worker's claim on the notice (and on outbox rows) runs out within seconds.
WORKER_SETTINGS = {
    "NOTIFICATIONS_LEASE_SECONDS": "7",
    "OUTBOUND_HTTP_TIMEOUT": "1",
    "NOTIFICATIONS_BATCH_SIZE": "200",
    "OUTAGE_NOTICE_LEASE_SECONDS": "2",
    # Batches of 1,000 so that a kill lands between two of them.
    "OUTAGE_FAN_OUT_BATCH_SIZE": "1000",
}
TIME_LIMIT = 900


def build_mix(*, per_district: int, grid, populate) -> dict:
    """`per_district` customers in d1 (WeCom-linked group) and as many in d2 (no group).

    Of each district's customers: 2% sensitive (VIP), a fifth of those 高敏, one in
    twenty of those with a landline only; 1% of the others with a landline only;
    0.2% (d2) or 0.1% (d1) with no contact at all."""
    sensitive = max(per_district // 50, 5)
    groups = {}
    for name in ("d1", "d2"):
        customers = populate(grid[name], per_district, sensitive=sensitive)
        ids = [customer.pk for customer in customers]
        high = ids[: max(sensitive // 5, 1)]
        sensitive_landline = ids[sensitive - max(sensitive // 20, 1) : sensitive]
        others = ids[sensitive:]
        landline = others[: max(len(others) // 100, 1)]
        no_contact = others[-max(len(others) // (500 if name == "d2" else 1000), 1) :]
        Customer.all_objects.filter(pk__in=high).update(is_high_sensitivity=True)
        Contact.objects.filter(customer_id__in=sensitive_landline + landline).update(
            mobile="", landline="0855-3331234"
        )
        Contact.objects.filter(customer_id__in=no_contact).delete()
        groups[name] = {
            "all": set(ids),
            "sensitive": set(ids[:sensitive]),
            "high": set(high),
            "no_mobile": set(sensitive_landline + landline + no_contact),
            "no_contact": set(no_contact),
        }
    return groups


def expected_channels(mix: dict) -> dict[int, str]:
    """The channel each customer must be reached on (README, "Who is told how")."""
    channels = {}
    for name, g in mix.items():
        for customer_id in g["all"]:
            if customer_id in g["sensitive"]:
                channels[customer_id] = Channel.CALL if customer_id in g["no_mobile"] else Channel.SMS
            elif name == "d1":
                channels[customer_id] = Channel.GROUP  # the district's group was posted
            elif customer_id in g["no_contact"]:
                channels[customer_id] = Channel.NONE
            elif customer_id in g["no_mobile"]:
                channels[customer_id] = Channel.CALL  # a resident: the district's manager phones
            else:
                channels[customer_id] = Channel.SMS
    return channels


def run_drill(
    *, per_district, kills_in_fan_out, kills_in_delivery, manager, grid, populate, group, http, log_dir
):
    mix = build_mix(per_district=per_district, grid=grid, populate=populate)
    outage = outage_services.outage_create(
        by=manager,
        kind=OutageKind.FAULT,
        reason="10kV永乐线故障跳闸",
        districts=[grid["d1"], grid["d2"]],
        estimated_restoration=timezone.now() + timedelta(hours=3),
    )
    outage_services.outage_publish(outage=outage, by=manager)
    notice = OutageNotice.objects.get(outage=outage, kind=OutageNotice.START)
    affected = AffectedCustomer.objects.filter(outage=outage).count()
    assert affected == 2 * per_district
    channels = expected_channels(mix)
    sms_keys = {
        f"{notice.dedupe_prefix}customer:{pk}" for pk, channel in channels.items() if channel == Channel.SMS
    }
    reach_key = f"outage_notice:{notice.pk}"

    def records():
        return ReachRecord.objects.filter(notice__key=reach_key)

    def sms_rows():
        return Notification.objects.filter(dedupe_key__startswith=notice.dedupe_prefix)

    def fanned_out() -> bool:
        return OutageNotice.objects.filter(pk=notice.pk, fanned_out_at__isnull=False).exists()

    def finished() -> bool:
        return (
            fanned_out()
            and sms_rows().count() == len(sms_keys)
            and not sms_rows().exclude(status=Notification.Status.SENT).exists()
        )

    queue, worker = drill_worker(
        "drill-reach", log_dir=log_dir, env={**WORKER_SETTINGS, "SMS_GATEWAY_URL": http.url("/sms")}
    )
    rng = random.Random()
    clock = Stopwatch()
    kills: list[dict] = []

    def feed() -> None:
        """What beat would send every few seconds, whenever the queue is empty."""
        if queue_length(REDIS_URL, queue) == 0:
            for task in (fan_out_notices, deliver_due_notifications):
                send(task, queue)

    def work_until(ready) -> bool:
        """Keep the worker fed until `ready()` holds; False if everything finished first."""
        while not ready():
            if finished():
                return False
            feed()
            time.sleep(0.02)
            assert clock() < TIME_LIMIT, f"not done after {TIME_LIMIT} s:\n{worker.log()[-5000:]}"
        return True

    def kill(phase: str) -> None:
        worker.kill()
        kills.append(
            {
                "phase": phase,
                "records": records().count(),
                "fanned_out": fanned_out(),
                "sms_sent": sms_rows().filter(status=Notification.Status.SENT).count(),
            }
        )

    try:
        for _kill in range(kills_in_fan_out):
            worker.start()
            # Somewhere past the records already written, before the last batch.
            written = records().count()
            threshold = rng.randint(written + 1, max(written + 1, affected - 1000))
            assert work_until(lambda t=threshold: records().count() >= t), "the fan-out ended before the kill"
            kill("fan-out")
        for _kill in range(kills_in_delivery):
            worker.start()
            sent = sms_rows().filter(status=Notification.Status.SENT).count()
            threshold = rng.randint(sent + 1, max(sent + 1, len(sms_keys) - 200))
            ready = lambda t=threshold: sms_rows().filter(status=Notification.Status.SENT).count() >= t  # noqa: E731
            assert work_until(ready), "the delivery ended before the kill"
            kill("delivery")
        worker.start()
        while not finished():
            feed()
            time.sleep(0.05)
            assert clock() < TIME_LIMIT, f"not done after {TIME_LIMIT} s:\n{worker.log()[-5000:]}"
    finally:
        dismiss(worker, queue)
    elapsed = clock()

    # Kills really cut the fan-out: records were half written, the notice still open.
    in_fan_out = [k for k in kills if k["phase"] == "fan-out"]
    assert all(0 < k["records"] < affected and not k["fanned_out"] for k in in_fan_out), kills

    # Every affected customer once, on the channel of the policy.
    rows = list(records().values_list("customer_id", "channel", "reason", "call_state"))
    customers = [row[0] for row in rows]
    assert len(customers) == len(set(customers)) == affected
    got = {customer_id: channel for customer_id, channel, _reason, _call in rows}
    wrong = {pk: (got.get(pk), channel) for pk, channel in channels.items() if got.get(pk) != channel}
    assert not wrong, f"{len(wrong)} customers on another channel, e.g. {list(wrong.items())[:5]}"
    # The district's group was posted once, whatever the kills, and carries its records.
    assert list(notice.broadcasts.values_list("group_id", flat=True)) == [group.pk]
    group_ids = set(records().filter(channel=Channel.GROUP).values_list("group_id", flat=True))
    assert group_ids == {group.pk}
    reasons = {customer_id: reason for customer_id, _channel, reason, _call in rows}
    assert {reasons[pk] for pk in mix["d2"]["no_contact"]} == {Reason.NO_CONTACT}
    # 高敏 customers are phoned as well on a fault, beside their SMS.
    pending_calls = {customer_id for customer_id, _ch, _r, call in rows if call == CallState.PENDING}
    high = mix["d1"]["high"] | mix["d2"]["high"]
    calls = {pk for pk, channel in channels.items() if channel == Channel.CALL}
    assert pending_calls == high | calls

    # Every SMS outbox row once, for exactly the customers who must get one, and sent.
    keys = list(sms_rows().values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) and set(keys) == sms_keys, "each SMS row once"
    assert set(sms_rows().values_list("status", flat=True)) == {Notification.Status.SENT}
    with_outbox = records().filter(channel=Channel.SMS, notification__isnull=False).count()
    assert with_outbox == len(sms_keys), "every SMS record rides on its outbox row"
    notice.refresh_from_db()
    assert notice.personal_count == len(sms_keys)

    # The gateway got every SMS under its out_id, nothing else; a repeat carries the same out_id.
    posts = [r for r in http.requests if r["path"] == "/sms"]
    sent = set(sms_rows().values_list("dedupe_key", "address"))
    assert {(r["json"]["out_id"], r["json"]["mobile"]) for r in posts} == sent
    assert all(r["headers"].get("Idempotency-Key") == r["json"]["out_id"] for r in posts)
    received = Counter(r["json"]["out_id"] for r in posts)
    assert len(received) == len(sms_keys), "each SMS submitted once by its out_id"
    repeats = sum(n - 1 for n in received.values())
    assert repeats <= len(kills), received.most_common(3)
    return {
        "affected": affected,
        "kills": [(k["phase"], k["records"], k["sms_sent"]) for k in kills],
        "restarts": len(worker.pids) - 1,
        "sms": len(sms_keys),
        "group": sum(1 for c in channels.values() if c == Channel.GROUP),
        "calls": len(pending_calls),
        "unreachable": sum(1 for c in channels.values() if c == Channel.NONE),
        "sms_posts": len(posts),
        "repeated_posts_absorbed_by_out_id": repeats,
        "seconds": round(elapsed, 1),
    }


@pytest.fixture
def drill(transactional_db, manager, grid, populate, district_group, http_endpoint, drill_dir, capsys):  # noqa: F811
    def _run(**size) -> dict:
        result = run_drill(
            manager=manager,
            grid=grid,
            populate=populate,
            group=district_group,
            http=http_endpoint,
            log_dir=drill_dir,
            **size,
        )
        with capsys.disabled():
            print(f"\nreach fan-out SIGKILL drill: {result}")
        return result

    return _run


def test_a_worker_killed_mid_fan_out_leaves_every_reach_record_and_sms_once(drill):
    # Three batches of records: the kill lands after the first.
    drill(per_district=1500, kills_in_fan_out=1, kills_in_delivery=0)


@pytest.mark.slow_drill
def test_ten_thousand_customers_worker_killed_during_fan_out_and_delivery(drill):
    drill(per_district=5000, kills_in_fan_out=2, kills_in_delivery=1)
