from django.db import migrations, models

from core.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    # The outbox is large: the new index is built without stopping writes (PostgreSQL),
    # and the old one goes only once it is there.
    atomic = False

    dependencies = [
        ("notifications", "0011_outbox_partial_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("provider_message_id", ""), _negated=True),
                fields=["provider_message_id"],
                name="notification_provider_accepted",
            ),
        ),
        migrations.RemoveIndex(
            model_name="notification",
            name="notification_provider_msg",
        ),
    ]
