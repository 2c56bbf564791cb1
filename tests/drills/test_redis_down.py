"""Drill: the broker dies while work orders are being opened through the API.

A redis-server of the drill's own (never the machine's) is the broker of a
real worker, a real beat and the test's own after-commit kicks. Orders are
opened at a steady rate while that redis-server is SIGKILLed for a while and
then started again on the same port, empty (nothing persisted): every request
must still answer 201 within 2 s (the kick after commit fails fast and is
swallowed), and once Redis is back the worker and beat reconnect by
themselves and beat's dispatch sweep delivers every notification the outage
left in the outbox, within 60 s.
"""

import time

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifications.models import Notification
from tests.drills.support import (
    RedisServer,
    Stopwatch,
    celery_beat,
    celery_worker,
    needs_redis_server,
    percentile,
    postgres_only,
)
from tests.factories import ContactFactory, CustomerFactory
from tests.notifications.support import celery_broker
from tickets.models import Ticket

pytestmark = [pytest.mark.drill, pytest.mark.celery_worker, postgres_only, needs_redis_server]

TICKETS = "/api/v1/tickets/"
MAX_REQUEST_SECONDS = 2.0
DELIVERY_DEADLINE_SECONDS = 60
REQUEST_INTERVAL = 0.2
# Beat's outbox sweep runs this often in the drill (10 s in production).
SCAN_SECONDS = "1"


def open_orders(client: APIClient, customer, assignee, *, seconds: float, latencies: list[float]) -> None:
    """Open an order every REQUEST_INTERVAL for `seconds` (at least one); each must answer 201."""
    body = {"kind": "repair", "title": "家中停电", "description": "客户反映家中无电。"}
    until = time.monotonic() + seconds
    while True:
        started = time.monotonic()
        response = client.post(
            TICKETS, {**body, "customer": customer.number, "assignee": assignee.username}, format="json"
        )
        latencies.append(time.monotonic() - started)
        assert response.status_code == 201, response.content
        if time.monotonic() >= until:
            return
        time.sleep(max(0.0, REQUEST_INTERVAL - latencies[-1]))


def run_drill(*, outage_seconds: float, manager, colleague, org_tree, drill_dir) -> dict:
    customer = CustomerFactory(station=org_tree["station"], manager=manager, name="杨丽")
    ContactFactory(customer=customer, name="杨丽", mobile="13885550001", is_primary=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")

    redis_server = RedisServer(drill_dir)
    redis_server.start()
    env = {"NOTIFICATIONS_SCAN_SECONDS": SCAN_SECONDS}
    worker = celery_worker(broker_url=redis_server.url, queues="realtime,bulk", log_dir=drill_dir, env=env)
    beat = celery_beat(broker_url=redis_server.url, log_dir=drill_dir, env=env)
    before, during, after = [], [], []
    try:
        worker.start(wait=False)
        beat.start(wait=False)
        worker.wait_ready()
        beat.wait_ready()
        with celery_broker(redis_server.url):
            # The first request of the process pays for imports and URL resolving.
            open_orders(client, customer, colleague, seconds=0, latencies=[])
            open_orders(client, customer, colleague, seconds=1, latencies=before)
            redis_server.kill()
            open_orders(client, customer, colleague, seconds=outage_seconds, latencies=during)
            waiting = unsettled().count()
            redis_server.start()
            back = Stopwatch()
            open_orders(client, customer, colleague, seconds=1, latencies=after)

            def all_sent() -> bool:
                return not unsettled().exists()

            while not all_sent() and back() < DELIVERY_DEADLINE_SECONDS:
                time.sleep(0.1)
            delivered_after = back()
        assert all_sent(), (
            f"{unsettled().count()} not sent "
            f"{DELIVERY_DEADLINE_SECONDS} s after Redis came back\n"
            f"worker:\n{worker.log()[-3000:]}\nbeat:\n{beat.log()[-3000:]}"
        )
        assert worker.alive() and beat.alive(), "worker and beat reconnect by themselves"
        assert worker.starts == beat.starts == 1
    finally:
        beat.stop()
        worker.stop()
        redis_server.kill()

    orders = 1 + len(before) + len(during) + len(after)
    assert Ticket.objects.count() == orders
    assert Notification.objects.filter(dedupe_key__contains=":dispatched:").count() == orders
    assert waiting >= len(during), "the orders opened while Redis was down left their notices waiting"
    latencies = before + during + after
    assert max(latencies) < MAX_REQUEST_SECONDS, sorted(latencies)[-5:]
    return {
        "outage_seconds": outage_seconds,
        "orders": orders,
        "orders_during_outage": len(during),
        "max_request_seconds_during_outage": round(max(during), 3),
        "p95_request_seconds_during_outage": round(percentile(during, 0.95), 3),
        "max_request_seconds_with_redis_up": round(max(before + after), 3),
        "waiting_when_redis_returned": waiting,
        "seconds_to_deliver_after_redis_returned": round(delivered_after, 1),
    }


def test_orders_open_while_redis_is_down_and_their_notices_go_out_after(
    transactional_db, real_kick, manager, colleague, org_tree, drill_dir, capsys
):
    result = run_drill(
        outage_seconds=5, manager=manager, colleague=colleague, org_tree=org_tree, drill_dir=drill_dir
    )
    with capsys.disabled():
        print(f"\nRedis outage drill: {result}")


@pytest.mark.slow_drill
def test_a_minute_without_redis(transactional_db, real_kick, manager, colleague, org_tree, drill_dir, capsys):
    result = run_drill(
        outage_seconds=60, manager=manager, colleague=colleague, org_tree=org_tree, drill_dir=drill_dir
    )
    with capsys.disabled():
        print(f"\nRedis outage drill: {result}")


def unsettled():
    """Rows the outbox still owes an attempt: the customers' acceptance SMS end SKIPPED where
    no SMS channel is configured (as in this drill), which is settled too."""
    return Notification.objects.filter(status__in=[Notification.Status.PENDING, Notification.Status.SENDING])
