"""Data migrations of listening, run forward on rows made with the schema before them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def migrate_to(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor.loader.project_state([target]).apps


def test_existing_webhook_sources_become_legacy_so_their_senders_keep_working():
    old = migrate_to(("listening", "0003_mention_conversation"))
    Source = old.get_model("listening", "Source")
    hook = Source.objects.create(name="Partner since 2025", kind="webhook", query="")
    feed = Source.objects.create(name="Feed", kind="rss", query="https://example.org/feed")
    try:
        new = migrate_to(("listening", "0004_source_webhook_legacy"))
        Source = new.get_model("listening", "Source")
        assert Source.objects.get(id=hook.id).webhook_legacy
        assert not Source.objects.get(id=feed.id).webhook_legacy
        assert not Source.objects.create(name="New partner", kind="webhook", query="").webhook_legacy
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
