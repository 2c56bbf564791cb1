from django.db import migrations

from tickets.defaults import seed_default_policies


def create_defaults(apps, schema_editor):
    seed_default_policies(apps.get_model("tickets", "SlaPolicy"))


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
