"""PostgreSQL itself refuses UPDATE and DELETE on the audit log, whoever asks."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION warroom_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % refused on entry %', TG_OP, OLD.id
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER warroom_audit_append_only
  BEFORE UPDATE OR DELETE ON warroom_auditentry
  FOR EACH ROW EXECUTE FUNCTION warroom_audit_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS warroom_audit_append_only ON warroom_auditentry;
DROP FUNCTION IF EXISTS warroom_audit_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("warroom", "0002_roles")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
