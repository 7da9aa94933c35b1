"""The queue's single state row exists from the start, so every publish can lock it."""

from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("approvals", "QueueState").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]
    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
