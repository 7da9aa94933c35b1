"""The audit log is append-only in the database and commits with the decision it records."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from tests.support import WAIT, all_at_once, wait_until

from warroom import audit, roles, services
from warroom.models import Announcement, AuditEntry, LiveEvent


@pytest.fixture
def entry(make_user):
    with transaction.atomic():
        return audit.record(actor=make_user(roles.LEAD), action="queue.pause", details={"reason": "tragedy"})


def test_the_database_refuses_to_update_an_entry(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(id=entry.id).update(action="queue.resume")
    entry.refresh_from_db()
    assert entry.action == "queue.pause"


def test_the_database_refuses_to_delete_an_entry_even_in_raw_sql(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM warroom_auditentry WHERE id = %s", [entry.id])
    assert AuditEntry.objects.filter(id=entry.id).exists()


def test_a_user_with_history_cannot_be_deleted(entry):
    with pytest.raises(Exception), transaction.atomic():
        entry.actor.delete()
    assert AuditEntry.objects.get(id=entry.id).actor_name == entry.actor.username


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_is_a_programming_error(make_user):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit.record(actor=make_user(roles.LEAD), action="queue.pause")


@pytest.mark.django_db(transaction=True)
def test_a_decision_that_rolls_back_leaves_no_audit_entry_and_no_live_event(make_user):
    lead = make_user(roles.LEAD)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        services.announcement_post(author=lead, text="This never happened")
        1 / 0
    assert not Announcement.objects.exists()
    assert not AuditEntry.objects.exists()
    assert not LiveEvent.objects.exists()


# -- TRUNCATE, the hash chain and audit_verify ------------------------------------------


def chain() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT e.id, e.prev_hash, e.hash, warroom_audit_hash(e) FROM warroom_auditentry e ORDER BY e.id")
        return cursor.fetchall()


def as_owner_bypassing_the_trigger(sql: str, params: list) -> None:
    """What only the tables' owner can do: switch the append-only trigger off, change the
    log, switch it back on."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the entries' own checks done, as after their commit
        cursor.execute("ALTER TABLE warroom_auditentry DISABLE TRIGGER warroom_audit_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE warroom_auditentry ENABLE TRIGGER warroom_audit_append_only")


@pytest.fixture
def three_entries(make_user):
    lead = make_user(roles.LEAD)
    with transaction.atomic():
        return [
            audit.record(actor=lead, action="queue.pause", details={"reason": "tragedy"}),
            audit.record(actor=None, action="post.publish", details={"platform_id": "123", "ratio": 0.1}),
            audit.record(actor=lead, action="queue.resume", details={"released": [1, 2], "note": "ünïcode \u05d0"}),
        ]


def test_the_database_refuses_to_truncate_the_log(entry):
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as if the entry had committed long ago
            cursor.execute("TRUNCATE warroom_auditentry CASCADE")
    assert AuditEntry.objects.filter(id=entry.id).exists()


def test_each_entry_holds_the_hash_of_its_content_and_of_the_entry_before(three_entries):
    rows = chain()
    assert [row[0] for row in rows] == [entry.id for entry in three_entries]
    assert rows[0][1] == audit.GENESIS
    for (_, _, previous, _), (_, prev_hash, _, _) in zip(rows, rows[1:]):
        assert prev_hash == previous
    for _, _, stored, computed in rows:
        assert len(stored) == 64 and stored == computed
    assert len({row[2] for row in rows}) == 3


def test_an_insert_cannot_choose_its_place_in_the_chain(three_entries):
    """The database sets id, prev_hash and hash whatever the INSERT says."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO warroom_auditentry (id, at, actor_name, action, object_type, object_id, object_repr, details, prev_hash, hash)"
            " VALUES (1, now(), 'mallory', 'forged', '', '', '', '{}', %s, %s) RETURNING id, prev_hash, hash",
            [audit.GENESIS, "f" * 64],
        )
        forged_id, prev_hash, stored = cursor.fetchone()
    assert forged_id > three_entries[-1].id
    assert prev_hash == chain()[-2][2] and stored == chain()[-1][3] != "f" * 64
    assert audit.verify().intact


def test_audit_verify_says_the_chain_holds(three_entries):
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert f"The audit chain holds: 3 entries, newest hash {chain()[-1][2]}." in out.getvalue()


def test_audit_verify_names_an_entry_the_owner_changed_behind_the_trigger(three_entries):
    changed = three_entries[1]
    as_owner_bypassing_the_trigger(
        "UPDATE warroom_auditentry SET details = '{\"platform_id\": \"999\"}' WHERE id = %s", [changed.id]
    )
    with pytest.raises(CommandError) as broken:
        call_command("audit_verify")
    message = str(broken.value)
    assert f"broken at entry #{changed.id}." in message
    assert f"Entry #{changed.id} (" in message and "post.publish) no longer matches its hash" in message
    assert "The 1 entries before it hold." in message


def test_audit_verify_names_the_entry_after_one_the_owner_removed(three_entries):
    first, removed, after = three_entries
    as_owner_bypassing_the_trigger("DELETE FROM warroom_auditentry WHERE id = %s", [removed.id])
    verdict = audit.verify()
    assert verdict.broken_id == after.id and verdict.entries == 1
    assert f"does not follow entry #{first.id}: an entry between them was removed" in verdict.problem


def test_audit_verify_catches_a_rewritten_entry_even_with_its_hash_recomputed(three_entries):
    """An owner who also recomputes the changed entry's own hash breaks the next link instead."""
    first, rewritten, after = three_entries
    as_owner_bypassing_the_trigger(
        "UPDATE warroom_auditentry e SET action = 'post.fail' WHERE id = %s;"
        " UPDATE warroom_auditentry e SET hash = warroom_audit_hash(e) WHERE id = %s",
        [rewritten.id, rewritten.id],
    )
    verdict = audit.verify()
    assert verdict.broken_id == after.id
    assert f"does not follow entry #{rewritten.id}" in verdict.problem


@pytest.mark.django_db(transaction=True)
def test_entries_written_at_the_same_moment_form_one_chain(make_user):
    lead = make_user(roles.LEAD)

    def decide(n: int):
        def call():
            with transaction.atomic():
                return audit.record(actor=lead, action="queue.pause", details={"n": n}).id
        return call

    ids = all_at_once([decide(n) for n in range(8)])
    rows = chain()
    assert sorted(ids) == [row[0] for row in rows]
    assert audit.verify().intact and audit.verify().entries == 8


@pytest.mark.django_db(transaction=True)
def test_an_entry_is_chained_under_the_live_layers_ordering_lock(make_user):
    """The same lock live events take, held to commit: an entry waits while another
    transaction holds it, so the two orders can never cross (nor deadlock on two locks)."""
    import threading

    import psycopg2

    from warroom.live import ALLOCATION_LOCK

    lead = make_user(roles.LEAD)
    db = connection.settings_dict
    holder = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"])
    done = threading.Event()

    def write():
        try:
            with transaction.atomic():
                audit.record(actor=lead, action="queue.pause")
            done.set()
        finally:
            connection.close()

    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ALLOCATION_LOCK])
            writer = threading.Thread(target=write)
            writer.start()

            def writer_waits_on_the_lock():
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = %s",
                    [ALLOCATION_LOCK & 0xFFFFFFFF],
                )
                return cursor.fetchone()[0] == 1

            wait_until(writer_waits_on_the_lock, "the audit entry waits for the ordering lock")
            assert not done.is_set()
        holder.commit()
        writer.join(WAIT)
        assert done.is_set()
    finally:
        holder.close()
    assert audit.verify().entries == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_entries_written_before_it():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("warroom")
    executor.migrate([("warroom", "0003_audit_append_only")])
    try:
        with connection.cursor() as cursor:
            for action in ("queue.pause", "post.approve", "queue.resume"):
                cursor.execute(
                    "INSERT INTO warroom_auditentry (at, actor_name, action, object_type, object_id, object_repr, details)"
                    " VALUES (now(), 'leo', %s, '', '', '', '{\"old\": true}')", [action],
                )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
    verdict = audit.verify()
    assert verdict.intact and verdict.entries == 3
    rows = chain()
    assert rows[0][1] == audit.GENESIS and rows[1][1] == rows[0][2]
