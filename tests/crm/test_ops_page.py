"""The operations page (administrators only), its JSON at /healthz/ops and /metrics."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from core.models import OpsIncident, PeriodicRun
from crm.celery import app as celery_app
from notifications.models import Notification
from tests.factories import NotificationFactory
from workspace.ops import snapshot as ops_snapshot

pytestmark = pytest.mark.django_db

OPS, HEALTH, METRICS = "/ops/", "/healthz/ops", "/metrics"


@pytest.fixture(autouse=True)
def memory_broker(monkeypatch):
    """Queue depths from an in-memory broker holding 3 realtime and 1 bulk message."""
    # The memory transport's queues live as long as the process: start and end empty.
    connection = Connection("memory://")
    channel = connection.channel()
    for queue, count in (("realtime", 3), ("bulk", 1)):
        channel.queue_declare(queue)
        channel._purge(queue)
        for n in range(count):
            channel._put(queue, {"body": str(n)})
    monkeypatch.setattr(celery_app, "connection_for_read", lambda *args, **kwargs: Connection("memory://"))
    yield
    for queue in ("realtime", "bulk"):
        channel._purge(queue)
    connection.release()


@pytest.fixture
def world(admin_user):
    now = timezone.now()
    PeriodicRun.objects.create(
        task="tickets.tasks.sla_scan",
        last_started_at=now - timedelta(minutes=9, seconds=2),
        last_finished_at=now - timedelta(minutes=9),
        last_succeeded_at=now - timedelta(minutes=9),
        last_outcome=PeriodicRun.Outcome.SUCCESS,
    )
    PeriodicRun.objects.filter(task="tickets.tasks.sla_scan").update(created_at=now - timedelta(days=1))
    PeriodicRun.objects.create(
        task="groups.tasks.reconcile_wecom_groups",
        last_started_at=now - timedelta(minutes=2),
        last_finished_at=now - timedelta(minutes=1),
        last_outcome=PeriodicRun.Outcome.FAILURE,
        last_error="WeComTransientError: errcode -1",
        consecutive_failures=2,
    )
    NotificationFactory(recipient=admin_user, next_attempt_at=now - timedelta(minutes=20))
    NotificationFactory(
        recipient=admin_user,
        channel=Notification.Channel.SMS,
        status=Notification.Status.FAILED,
        last_error="HTTP 500",
        address="13800000000",
    )
    OpsIncident.objects.create(key="stalled:tickets.tasks.sla_scan", summary="工单时限扫描已 9 分钟未完成")


@pytest.mark.parametrize("persona", ["manager", "supervisor", "outsider"])
def test_the_page_and_its_json_do_not_exist_for_non_administrators(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(OPS).status_code == 404
    assert client.get(HEALTH).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in_and_learn_nothing_from_the_json(client):
    assert client.get(OPS)["Location"].startswith("/accounts/login/")
    response = client.get(HEALTH)
    assert response.status_code == 404
    assert b"sla_scan" not in response.content


def test_an_administrator_sees_runs_queues_outbox_connections_and_incidents(client, admin_user, world):
    client.force_login(admin_user)

    response = client.get(OPS)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    for text in (
        "运行状况",
        "tickets.tasks.sla_scan",
        "groups.tasks.reconcile_wecom_groups",
        "WeComTransientError: errcode -1",
        "超时未完成",
        "工单时限扫描已 9 分钟未完成",
        "realtime",
        "bulk",
        "HTTP 500",
    ):
        assert text in page, text
    ops = response.context["ops"]
    assert ops["queues"] == {"realtime": 3, "bulk": 1}
    assert ops["outbox"]["due"] == 1
    assert ops["outbox"]["oldest_due_minutes"] == 20
    assert ops["sms"]["failed_last_day"] == 1


def test_the_page_costs_the_same_queries_however_many_tasks_ran(
    client, admin_user, world, django_assert_max_num_queries
):
    client.force_login(admin_user)
    client.get(OPS)
    for n in range(20):
        PeriodicRun.objects.create(task=f"extra.tasks.t{n}", last_outcome=PeriodicRun.Outcome.SUCCESS)

    with django_assert_max_num_queries(16):
        assert client.get(OPS).status_code == 200


def test_the_json_for_an_administrator(client, admin_user, world):
    client.force_login(admin_user)

    response = client.get(HEALTH)

    assert response.status_code == 503, "an open incident"
    body = response.json()
    assert body["status"] == "alert"
    assert body["queues"] == {"realtime": 3, "bulk": 1}
    assert body["outbox"]["due"] == 1
    assert body["outbox"]["failed_last_day_by_channel"] == {"sms": 1}
    scan = next(row for row in body["tasks"] if row["task"] == "tickets.tasks.sla_scan")
    assert scan["stalled"] is True
    assert scan["stale_after_minutes"] == 5
    assert scan["entries"] == ["tickets-sla-scan"]
    assert body["incidents"][0]["key"] == "stalled:tickets.tasks.sla_scan"
    assert set(body["wecom"]) >= {"configured", "pending_callbacks", "failed_callbacks", "last_error"}
    assert body["sms"]["provider"] == "gateway"


def test_the_json_is_ok_without_incidents(client, admin_user):
    client.force_login(admin_user)

    response = client.get(HEALTH)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_a_monitoring_system_reads_the_json_with_the_token(client, settings, world):
    settings.METRICS_TOKEN = "s3cret-token"

    assert client.get(HEALTH, HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 503
    assert client.get(HEALTH, HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get(HEALTH).status_code == 404


def test_metrics_are_404_without_a_token_or_allow_list_even_for_an_administrator(
    client, admin_user, settings
):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    client.force_login(admin_user)

    assert client.get(METRICS).status_code == 404


def test_metrics_need_the_token_or_an_allowed_address(client, settings, world):
    settings.METRICS_TOKEN = "s3cret-token"
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]

    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer nope").status_code == 404
    assert client.get(METRICS, REMOTE_ADDR="10.0.0.6").status_code == 404
    assert client.get(METRICS, REMOTE_ADDR="10.0.0.5").status_code == 200
    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_metrics_in_prometheus_text_format(client, settings, world):
    settings.METRICS_TOKEN = "s3cret-token"

    response = client.get(METRICS, HTTP_AUTHORIZATION="Bearer s3cret-token")

    assert response["Content-Type"].startswith("text/plain; version=")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values()
        for sample in family.samples
    }
    assert samples[("crm_queue_depth", (("queue", "realtime"),))] == 3
    assert samples[("crm_queue_depth", (("queue", "bulk"),))] == 1
    assert samples[("crm_outbox_due", ())] == 1
    assert 20 * 60 <= samples[("crm_outbox_oldest_due_seconds", ())] < 21 * 60
    assert samples[("crm_outbox_failed_last_day", (("channel", "sms"),))] == 1
    assert samples[("crm_periodic_task_stalled", (("task", "tickets.tasks.sla_scan"),))] == 1
    assert (
        samples[
            ("crm_periodic_task_consecutive_failures", (("task", "groups.tasks.reconcile_wecom_groups"),))
        ]
        == 2
    )
    assert (
        samples[
            (
                "crm_periodic_task_last_outcome",
                (("outcome", "failure"), ("task", "groups.tasks.reconcile_wecom_groups")),
            )
        ]
        == 1
    )
    success = samples[
        ("crm_periodic_task_last_success_timestamp_seconds", (("task", "tickets.tasks.sla_scan"),))
    ]
    assert abs(success - (timezone.now() - timedelta(minutes=9)).timestamp()) < 60
    assert samples[("crm_ops_open_incidents", ())] == 1


def test_queue_depths_count_the_files_of_the_filesystem_transport(monkeypatch, tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("bulk")
        for n in range(4):
            queue.put({"n": n})
        queue.close()
    monkeypatch.setattr(
        celery_app,
        "connection_for_read",
        lambda *args, **kwargs: Connection("filesystem://", transport_options=options),
    )

    assert ops_snapshot.queue_depths() == {"realtime": 0, "bulk": 4}


def test_an_unreachable_broker_leaves_the_depths_unknown(client, admin_user, monkeypatch):
    monkeypatch.setattr(
        celery_app,
        "connection_for_read",
        lambda *args, **kwargs: Connection("redis://127.0.0.1:1/0", connect_timeout=1),
    )
    client.force_login(admin_user)

    response = client.get(OPS)

    assert response.status_code == 200
    assert response.context["ops"]["queues"] == {"realtime": None, "bulk": None}
    assert "无法读取" in response.content.decode()
