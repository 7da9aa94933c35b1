"""Two PostgreSQL roles: migrations run as the owner of the tables, the room as an app role
that owns nothing and may only INSERT and SELECT audit entries. The suite itself runs as
one role (the owner) for speed; these tests make an app role, let `manage.py migrate`
grant it its privileges, and connect as it."""

import psycopg2
import pytest
from django.db import connection
from psycopg2 import errors

from tests import databases
from tests.conftest import manage
from warroom.models import AuditEntry


@pytest.fixture
def app_role(transactional_db):
    """(app role name, its URL to the test database, the owner's URL) after migrate granted it."""
    name = connection.settings_dict["NAME"]
    owner = connection.settings_dict["USER"]
    with databases.login_role(database=name) as role:
        app_url, owner_url = databases.url(user=role, database=name), databases.url(user=owner, database=name)
        result = manage("migrate", "--noinput", DATABASE_URL=app_url, MIGRATE_DATABASE_URL=owner_url)
        assert f"Granted {role} the app's privileges" in result.stdout, result.stdout + result.stderr
        yield role, app_url, owner_url


def refused(cursor, statement: str, params=None) -> str:
    """Run a statement that must be refused; return PostgreSQL's message."""
    with pytest.raises(psycopg2.Error) as error:
        cursor.execute(statement, params)
    cursor.connection.rollback()
    return str(error.value)


def test_the_app_role_may_add_and_read_audit_entries_but_never_change_them(app_role):
    role, app_url, _ = app_role
    app = databases.connect(app_url, autocommit=False)
    try:
        with app.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == role
            cursor.execute(
                "INSERT INTO warroom_auditentry (at, actor_name, action, object_type, object_id, object_repr, details)"
                " VALUES (now(), 'system', 'queue.pause', '', '', '', '{}') RETURNING id"
            )
            entry_id = cursor.fetchone()[0]
            app.commit()
            cursor.execute("SELECT action FROM warroom_auditentry WHERE id = %s", [entry_id])
            assert cursor.fetchone()[0] == "queue.pause"
            # Refused by privileges, before the append-only triggers are even asked.
            for statement in (
                "UPDATE warroom_auditentry SET action = 'queue.resume' WHERE id = %s",
                "DELETE FROM warroom_auditentry WHERE id = %s",
                "TRUNCATE warroom_auditentry",
            ):
                message = refused(cursor, statement, [entry_id] if "%s" in statement else None)
                assert "permission denied for table warroom_auditentry" in message, (statement, message)
            message = refused(cursor, "ALTER TABLE warroom_auditentry DISABLE TRIGGER warroom_audit_append_only")
            assert "must be owner of table warroom_auditentry" in message
            assert "permission denied" in refused(cursor, "CREATE TABLE warroom_shadow (id int)")
            assert "permission denied" in refused(
                cursor, "INSERT INTO django_migrations (app, name, applied) VALUES ('warroom', '9999_fake', now())"
            )
            # The rest of the room's tables it reads and writes.
            cursor.execute("UPDATE warroom_liveevent SET kind = kind WHERE id < 0")
            cursor.execute("DELETE FROM warroom_announcement WHERE id < 0")
            cursor.execute("SELECT count(*) FROM auth_user")
            app.commit()
    finally:
        app.close()
    assert AuditEntry.objects.filter(id=entry_id, action="queue.pause").exists()


def test_the_room_runs_as_the_app_role(app_role, make_user):
    """Management commands (announce writes an entry and a live event; audit_verify reads
    the chain) work connected as the app role."""
    _, app_url, _ = app_role
    make_user("lead", "leo")
    result = manage("announce", "Doors open in ten", "--as", "leo", DATABASE_URL=app_url)
    assert result.stdout.startswith("announced #"), result.stderr
    result = manage("audit_verify", DATABASE_URL=app_url)
    assert "The audit chain holds: 1 entries" in result.stdout, result.stderr
    assert AuditEntry.objects.get().action == "room.announce"


def test_migrate_grants_the_tables_a_new_migration_adds(app_role):
    """The grants are made on every migrate: a table the owner creates later is the app's too."""
    role, app_url, owner_url = app_role
    owner = databases.connect(owner_url)
    try:
        with owner.cursor() as cursor:
            cursor.execute("CREATE TABLE warroom_added_later (id bigint PRIMARY KEY)")
        manage("migrate", "--noinput", DATABASE_URL=app_url, MIGRATE_DATABASE_URL=owner_url)
        app = databases.connect(app_url)
        with app.cursor() as cursor:
            cursor.execute("INSERT INTO warroom_added_later VALUES (1)")
            cursor.execute("DELETE FROM warroom_added_later")
        app.close()
    finally:
        with owner.cursor() as cursor:
            cursor.execute("DROP TABLE warroom_added_later")
        owner.close()


def test_migrate_refuses_an_owner_url_to_another_database(app_role):
    _, app_url, owner_url = app_role
    elsewhere = owner_url.rsplit("/", 1)[0] + "/postgres"
    result = manage("migrate", "--noinput", check=False, DATABASE_URL=app_url, MIGRATE_DATABASE_URL=elsewhere)
    assert result.returncode != 0
    assert "must be the same database" in result.stderr


def test_without_an_app_role_the_privilege_errors_are_the_ones_the_app_would_meet(transactional_db):
    """The check above can fail: a role migrate never granted anything may not even read."""
    name = connection.settings_dict["NAME"]
    with databases.login_role(database=name) as role:
        app = databases.connect(databases.url(user=role, database=name))
        try:
            with app.cursor() as cursor:
                with pytest.raises(errors.InsufficientPrivilege):
                    cursor.execute("SELECT count(*) FROM warroom_auditentry")
        finally:
            app.close()
