"""Webhooks sign "<timestamp>.<body>" now. The sources that exist keep accepting the old
body-only signature (marked legacy), so no sender in production breaks; new ones do not."""

from django.db import migrations, models


def mark_existing_legacy(apps, schema_editor):
    apps.get_model("listening", "Source").objects.filter(kind="webhook").update(webhook_legacy=True)


class Migration(migrations.Migration):

    dependencies = [
        ("listening", "0003_mention_conversation"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="webhook_legacy",
            field=models.BooleanField(
                default=False, help_text="also accept the old signature of the body alone (no timestamp, so replayable)"
            ),
        ),
        migrations.RunPython(mark_existing_legacy, migrations.RunPython.noop),
    ]
