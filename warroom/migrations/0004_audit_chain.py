"""The audit log, append-only for real: TRUNCATE is refused like UPDATE and DELETE, and
every entry is hash-chained to the one before it.

On insert a trigger takes the live layer's ordering lock (pg_advisory_xact_lock of
warroom.live.ALLOCATION_LOCK, held to commit, the lock live events take: one lock, so the
two can never deadlock), gives the row the next id under it (ids then follow chain
order), and sets prev_hash to the newest entry's hash and hash to SHA-256 of the entry's
content with prev_hash. Whatever the INSERT said about these three columns is replaced.
The content hashed is PostgreSQL's own rendering (jsonb text, UTC timestamps), so any
client, `manage.py audit_verify` included, recomputes it the same way with
warroom_audit_hash(). Entries written before this migration are chained in id order."""

from django.db import migrations, models

GENESIS = "0" * 64

FORWARD = f"""
CREATE FUNCTION warroom_audit_hash(e warroom_auditentry) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(jsonb_build_array(
    e.id, e.at AT TIME ZONE 'UTC', e.actor_id, e.actor_name, e.action, e.object_type,
    e.object_id, e.object_repr, e.details, e.prev_hash
  )::text, 'UTF8')), 'hex')
$$;

ALTER TABLE warroom_auditentry DISABLE TRIGGER warroom_audit_append_only;
DO $$
DECLARE
  entry record;
  previous text := '{GENESIS}';
BEGIN
  FOR entry IN SELECT id FROM warroom_auditentry ORDER BY id LOOP
    UPDATE warroom_auditentry SET prev_hash = previous WHERE id = entry.id;
    UPDATE warroom_auditentry e SET hash = warroom_audit_hash(e) WHERE id = entry.id RETURNING hash INTO previous;
  END LOOP;
END;
$$;
ALTER TABLE warroom_auditentry ENABLE TRIGGER warroom_audit_append_only;

CREATE FUNCTION warroom_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock({0x57415252});  -- warroom.live.ALLOCATION_LOCK
  NEW.id := nextval(pg_get_serial_sequence('warroom_auditentry', 'id'));
  NEW.prev_hash := coalesce((SELECT hash FROM warroom_auditentry ORDER BY id DESC LIMIT 1), '{GENESIS}');
  NEW.hash := warroom_audit_hash(NEW);
  RETURN NEW;
END;
$$;
CREATE TRIGGER warroom_audit_chain
  BEFORE INSERT ON warroom_auditentry
  FOR EACH ROW EXECUTE FUNCTION warroom_audit_chain();

CREATE FUNCTION warroom_audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: TRUNCATE refused'
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER warroom_audit_no_truncate
  BEFORE TRUNCATE ON warroom_auditentry
  FOR EACH STATEMENT EXECUTE FUNCTION warroom_audit_refuse_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS warroom_audit_no_truncate ON warroom_auditentry;
DROP FUNCTION IF EXISTS warroom_audit_refuse_truncate();
DROP TRIGGER IF EXISTS warroom_audit_chain ON warroom_auditentry;
DROP FUNCTION IF EXISTS warroom_audit_chain();
DROP FUNCTION IF EXISTS warroom_audit_hash(warroom_auditentry);
"""


class Migration(migrations.Migration):
    dependencies = [("warroom", "0003_audit_append_only")]
    operations = [
        migrations.AddField("auditentry", "prev_hash", models.CharField(default="", editable=False, max_length=64)),
        migrations.AddField("auditentry", "hash", models.CharField(default="", editable=False, max_length=64)),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
