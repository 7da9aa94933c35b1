"""The audit log's one writer and its verifier. Services call `record` inside their own
transaction, so the entry commits or rolls back with the decision it describes.

PostgreSQL chains every entry to the one before it as it is inserted (migration
0004_audit_chain): `verify` walks that chain and names the first link that does not hold."""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from .models import AuditEntry

GENESIS = "0" * 64  # the prev_hash of the first entry
VERIFY_BATCH = 5000


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


def record_many(*, actor, entries: list[tuple[str, Any, dict | None]]) -> list[AuditEntry]:
    """Several entries by one actor in one INSERT, chained in the order given (the chain's
    trigger runs per row, each row seeing the ones before it): (action, obj, details)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record_many must run inside the transaction of the decisions it records")
    if not entries:
        return []
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    actor_name = actor_obj.get_username() if actor_obj else "system"
    return AuditEntry.objects.bulk_create([
        AuditEntry(
            actor=actor_obj, actor_name=actor_name, action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            object_repr=str(obj)[:300] if obj is not None else "",
            details=details or {},
        )
        for action, obj, details in entries
    ])


@dataclass
class Verdict:
    entries: int  # how many entries were checked
    head: str  # the hash of the last entry that holds (GENESIS for an empty log)
    broken_id: int | None = None  # the first entry whose link does not hold
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


def verify() -> Verdict:
    """Walk the chain in id order: every entry must follow the one before it (its prev_hash
    is that entry's hash) and its content must still hash to its own hash."""
    previous_id, previous_hash, checked = None, GENESIS, 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.id, e.prev_hash, e.hash, warroom_audit_hash(e), e.at, e.actor_name, e.action"
                " FROM warroom_auditentry e WHERE e.id > %s ORDER BY e.id LIMIT %s",
                [previous_id or 0, VERIFY_BATCH],
            )
            rows = cursor.fetchall()
        if not rows:
            return Verdict(entries=checked, head=previous_hash)
        for entry_id, prev_hash, stored, computed, at, actor_name, action in rows:
            described = f"Entry #{entry_id} ({at:%Y-%m-%d %H:%M:%S} {actor_name} {action})"
            if prev_hash != previous_hash:
                after = f"entry #{previous_id}" if previous_id else "the start of the log"
                return Verdict(
                    entries=checked, head=previous_hash, broken_id=entry_id,
                    problem=f"{described} does not follow {after}: an entry between them was removed, "
                            f"or {after} was rewritten.",
                )
            if computed != stored:
                return Verdict(
                    entries=checked, head=previous_hash, broken_id=entry_id,
                    problem=f"{described} no longer matches its hash: it was changed after it was written.",
                )
            previous_id, previous_hash, checked = entry_id, stored, checked + 1
