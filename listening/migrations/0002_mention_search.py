"""Full-text search over mention text for the Feed's search box."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("listening", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX mention_text_search ON listening_mention USING gin (to_tsvector('simple', text));",
            "DROP INDEX IF EXISTS mention_text_search;",
        )
    ]
