"""The audit log is append-only in the database and commits with the decision it records."""

import pytest
from django.db import DatabaseError, connection, transaction

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
