"""Report stored texts longer than their field now allows (core.text limits); nothing is changed.

Limits on text fields were added after data existed: a row over its limit stays
as it is (no silent truncation) and cannot be saved through a form or the API
until someone shortens it. This command lists such rows so that they can be
looked at: `python manage.py check_text_lengths` exits with status 1 when any
row is over, 0 when none is.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models
from django.db.models.functions import Length

SHOWN_IDS = 20


def over_long_rows():
    """(model label, field name, limit, count, first ids) for every text field with rows over its limit."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.TextField) or not field.max_length:
                continue
            over = (
                model._base_manager.annotate(_length=Length(field.attname))
                .filter(_length__gt=field.max_length)
                .order_by("pk")
            )
            count = over.count()
            if count:
                ids = list(over.values_list("pk", flat=True)[:SHOWN_IDS])
                yield model._meta.label, field.name, field.max_length, count, ids


class Command(BaseCommand):
    help = "Report stored texts longer than their field allows (nothing is changed)."

    def handle(self, *args, **options) -> None:
        found = 0
        for label, name, limit, count, ids in over_long_rows():
            found += count
            shown = ", ".join(map(str, ids)) + (" …" if count > len(ids) else "")
            self.stdout.write(f"{label}.{name}: {count} row(s) over {limit} characters (ids {shown})")
        if found:
            raise CommandError(
                f"{found} stored text(s) over their limit; shorten them by hand.", returncode=1
            )
        self.stdout.write("Every stored text is within its limit.")
