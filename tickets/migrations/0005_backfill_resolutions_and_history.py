"""Existing orders get what new ones are written with.

- Each order that holds a resolution gets one Resolution record from its
  current fields (earlier resolutions of a reopened order were overwritten
  and cannot be recovered); by the actor of its last 办结 event, at its
  resolve time. That event, written without a note, gets the text.
- Each order without a history record gets its first one ("created", dated
  when it was opened), so its first edit shows old → new.

Set-based, in batches; the same code on SQLite and PostgreSQL.
"""

from django.db import migrations
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from core.history import insert_baseline_history

BATCH = 2000


def backfill_resolutions(apps, schema_editor) -> None:
    Ticket = apps.get_model("tickets", "Ticket")
    TicketEvent = apps.get_model("tickets", "TicketEvent")
    Resolution = apps.get_model("tickets", "Resolution")
    last_resolved = TicketEvent.objects.filter(ticket=OuterRef("pk"), action="resolved").order_by(
        "-created_at", "-id"
    )
    pending = (
        Ticket.objects.exclude(resolution="")
        .filter(~Q(resolutions__isnull=False))
        .annotate(
            event_actor=Subquery(last_resolved.values("actor_id")[:1]),
            event_at=Subquery(last_resolved.values("created_at")[:1]),
        )
        .order_by("pk")
        .values(
            "pk",
            "resolution_kind",
            "resolution",
            "commitment",
            "commitment_due",
            "resolved_at",
            "updated_at",
            "assignee_id",
            "sla_round",
            "event_actor",
            "event_at",
        )
    )
    last_pk = 0
    while True:
        rows = list(pending.filter(pk__gt=last_pk)[:BATCH])
        if not rows:
            break
        last_pk = rows[-1]["pk"]
        Resolution.objects.bulk_create(
            [
                Resolution(
                    ticket_id=row["pk"],
                    kind=row["resolution_kind"] or "direct",
                    text=row["resolution"],
                    commitment=row["commitment"],
                    commitment_due=row["commitment_due"],
                    resolved_by_id=row["event_actor"] or row["assignee_id"],
                    resolved_at=row["resolved_at"] or row["event_at"] or row["updated_at"],
                    sla_round=row["sla_round"],
                )
                for row in rows
            ]
        )
    latest_event = TicketEvent.objects.filter(ticket=OuterRef("ticket_id"), action="resolved").order_by(
        "-created_at", "-id"
    )
    TicketEvent.objects.filter(action="resolved", note="", pk=Subquery(latest_event.values("pk")[:1])).update(
        note=Coalesce(
            Subquery(Ticket.objects.filter(pk=OuterRef("ticket_id")).values("resolution")[:1]), F("note")
        )
    )


def backfill_history(apps, schema_editor) -> None:
    insert_baseline_history(
        apps.get_model("tickets", "Ticket"), apps.get_model("tickets", "HistoricalTicket"), batch_size=BATCH
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0004_ticket_history_resolutions"),
    ]

    operations = [
        migrations.RunPython(backfill_resolutions, migrations.RunPython.noop),
        migrations.RunPython(backfill_history, migrations.RunPython.noop),
    ]
