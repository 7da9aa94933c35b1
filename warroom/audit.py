"""The audit log's one writer. Services call `record` inside their own transaction, so
the entry commits or rolls back with the decision it describes."""

from typing import Any

from django.db import transaction

from .models import AuditEntry


def record(*, actor, action: str, obj: Any = None, details: dict | None = None) -> AuditEntry:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the decision it records")
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor=actor_obj,
        actor_name=actor_obj.get_username() if actor_obj else "system",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        details=details or {},
    )
