"""Default SLA targets: P1 15 min / 4 h, P2 1 h / 8 h, P3 4 h / 24 h, P4 24 h / 72 h."""

from django.db import migrations

DEFAULTS = {"P1": (15, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (1440, 4320)}


def create(apps, schema_editor):
    SlaPolicy = apps.get_model("triage", "SlaPolicy")
    for priority, (first, resolution) in DEFAULTS.items():
        SlaPolicy.objects.get_or_create(
            priority=priority, defaults={"first_response_minutes": first, "resolution_minutes": resolution}
        )


class Migration(migrations.Migration):
    dependencies = [("triage", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
