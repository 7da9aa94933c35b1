"""The demo room a newcomer gets from `make run`: a fire can be tried at once."""

import io

import pytest
from django.core.management import call_command

from approvals.models import ApprovalRequest, Post
from playbooks.models import Variant
from warroom.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_demo_playbook_has_one_variant_cleared_by_the_demo_legal_user_and_the_rest_wait(tmp_path):
    call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=io.StringIO())
    variants = list(Variant.objects.select_related("post", "scenario").order_by("scenario__order", "scenario__id", "order", "id"))
    assert len(variants) >= 2
    cleared, waiting = variants[0].post, [v.post for v in variants[1:]]
    assert cleared.state in {Post.State.APPROVED, Post.State.SCHEDULED}
    assert cleared.approved_hash == cleared.content_hash()
    assert {post.state for post in waiting} == {Post.State.PENDING}
    yes = ApprovalRequest.objects.get(post=cleared, state=ApprovalRequest.State.APPROVED)
    assert yes.answered_by.username == "legal"
    entry = AuditEntry.objects.get(action="post.approve", object_id=str(cleared.id))  # the crisis holding statement is cleared too
    assert entry.actor.username == "legal" and entry.details["hash"] == cleared.content_hash()

    approvals_before = AuditEntry.objects.filter(action="post.approve").count()
    call_command("seed_demo", logins_file=str(tmp_path / "logins.txt"), stdout=io.StringIO())
    assert AuditEntry.objects.filter(action="post.approve").count() == approvals_before  # seeding again clears nothing twice
