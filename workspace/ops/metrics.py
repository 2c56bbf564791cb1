"""Prometheus figures of the snapshot (prometheus_client's text format), built per scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from workspace.ops.snapshot import ops_snapshot

OUTCOMES = ("running", "success", "failure")


class OpsCollector:
    def __init__(self, snapshot: dict):
        self.snapshot = snapshot

    def collect(self):
        snapshot = self.snapshot
        started = GaugeMetricFamily(
            "crm_periodic_task_last_started_timestamp_seconds",
            "Last start of a periodic task",
            labels=["task"],
        )
        finished = GaugeMetricFamily(
            "crm_periodic_task_last_finished_timestamp_seconds",
            "Last end of a periodic task",
            labels=["task"],
        )
        succeeded = GaugeMetricFamily(
            "crm_periodic_task_last_success_timestamp_seconds",
            "Last successful end of a periodic task",
            labels=["task"],
        )
        failures = GaugeMetricFamily(
            "crm_periodic_task_consecutive_failures", "Failures in a row of a periodic task", labels=["task"]
        )
        outcome = GaugeMetricFamily(
            "crm_periodic_task_last_outcome", "1 for the outcome of the last run", labels=["task", "outcome"]
        )
        stalled = GaugeMetricFamily(
            "crm_periodic_task_stalled", "1 when a watched task has not completed in time", labels=["task"]
        )
        for row in snapshot["tasks"]:
            run = row.run
            if run is None:
                continue
            for family, value in (
                (started, run.last_started_at),
                (finished, run.last_finished_at),
                (succeeded, run.last_succeeded_at),
            ):
                if value is not None:
                    family.add_metric([row.task], value.timestamp())
            failures.add_metric([row.task], run.consecutive_failures)
            for name in OUTCOMES:
                outcome.add_metric([row.task, name], 1 if run.last_outcome == name else 0)
            if row.stale_after_minutes:
                stalled.add_metric([row.task], 1 if row.stalled else 0)
        yield from (started, finished, succeeded, failures, outcome, stalled)

        depth = GaugeMetricFamily("crm_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
        for queue, value in snapshot["queues"].items():
            if value is not None:
                depth.add_metric([queue], value)
        yield depth

        outbox = snapshot["outbox"]
        yield GaugeMetricFamily("crm_outbox_due", "Outbox rows due for delivery", value=outbox["due"])
        yield GaugeMetricFamily(
            "crm_outbox_oldest_due_seconds",
            "Age of the oldest outbox row due",
            value=(snapshot["at"] - outbox["oldest_due_at"]).total_seconds()
            if outbox["oldest_due_at"]
            else 0,
        )
        failed = GaugeMetricFamily(
            "crm_outbox_failed_last_day", "Outbox rows given up on within a day", labels=["channel"]
        )
        for channel, count in sorted(outbox["failed_last_day_by_channel"].items()):
            failed.add_metric([channel], count)
        yield failed

        wecom = snapshot["wecom"]
        yield GaugeMetricFamily(
            "crm_wecom_configured", "1 when WeCom is configured", value=int(wecom["configured"])
        )
        yield GaugeMetricFamily(
            "crm_wecom_pending_callbacks", "WeCom callbacks waiting", value=wecom["pending_callbacks"]
        )
        yield GaugeMetricFamily(
            "crm_wecom_failed_callbacks", "WeCom callbacks given up on", value=wecom["failed_callbacks"]
        )
        yield GaugeMetricFamily(
            "crm_sms_configured",
            "1 when the SMS provider is configured",
            value=int(snapshot["sms"]["configured"]),
        )
        yield GaugeMetricFamily(
            "crm_ops_open_incidents", "Open operations incidents", value=len(snapshot["incidents"])
        )


def metrics_text(snapshot: dict | None = None) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpsCollector(snapshot if snapshot is not None else ops_snapshot()))
    return generate_latest(registry)
