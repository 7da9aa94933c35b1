"""Approvals' rules against real PostgreSQL: the state machine, approvals bound to the
exact content, the checklist and lint, the pause, deadlines, and who may do what."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals import services
from approvals.models import Account, ApprovalRequest, Post
from listening import services as listening
from tests.listening import factories as f
from warroom import roles
from warroom.errors import Conflict, Forbidden, InvalidInput
from warroom.models import AuditEntry, LiveEvent

pytestmark = pytest.mark.django_db(transaction=True)
TICKED = {question: True for question in services.CHECKLIST}


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in roles.ALL}


@pytest.fixture
def backup(make_user):
    return make_user(roles.LEGAL, "backup_legal")


@pytest.fixture
def account(people, backup):
    return Account.objects.create(name="Crunchwave", handle="Crunchwave", time_zone="America/New_York",
                                  backup_approver=backup)


def submitted(people, account, text="Lights out? Our chips still crunch. #SuperBowl", **fields) -> Post:
    author = people[roles.COMMUNITY_MANAGER]
    post = services.post_create(author=author, account_id=account.id, text=text, **fields)
    return services.post_submit(post_id=post.id, user=author, checklist=TICKED)


def test_submit_needs_every_checklist_question_ticked(people, account):
    author = people[roles.COMMUNITY_MANAGER]
    post = services.post_create(author=author, account_id=account.id, text="Hello room")
    with pytest.raises(InvalidInput, match="grandmother"):
        services.post_submit(post_id=post.id, user=author, checklist={**TICKED, services.CHECKLIST[2]: False})
    post.refresh_from_db()
    assert post.state == Post.State.DRAFT and not post.requests.exists()


def test_legal_yes_schedules_the_post_and_the_author_is_told(people, account):
    post = submitted(people, account, publish_at=timezone.now() + timedelta(hours=1))
    assert post.state == Post.State.PENDING
    assert LiveEvent.objects.filter(kind="approval.requested", audience__contains=["role.legal"]).exists()
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.approved_hash == post.content_hash()
    told = LiveEvent.objects.get(kind="post.approved")
    assert f"user.{post.author_id}" in told.audience
    assert AuditEntry.objects.filter(action="post.approve", actor=people[roles.LEGAL]).count() == 1


def test_an_edit_after_approval_voids_it_and_goes_back_to_legal_with_the_diff(people, account):
    post = submitted(people, account, publish_at=timezone.now() + timedelta(hours=1))
    old_hash = post.content_hash()
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=old_hash)
    services.post_edit(post_id=post.id, user=people[roles.COMMUNITY_MANAGER], text="Lights out? Still crunching.")
    post.refresh_from_db()
    assert post.state == Post.State.PENDING and post.approved_hash == ""
    request = post.requests.get(state=ApprovalRequest.State.OPEN)
    assert request.previous_text.startswith("Lights out? Our chips") and request.content_hash == post.content_hash()
    with pytest.raises(Conflict, match="changed since you opened it"):
        services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=old_hash)


def test_moving_the_time_keeps_the_approval(people, account):
    post = submitted(people, account, publish_at=timezone.now() + timedelta(hours=1))
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    services.post_schedule(post_id=post.id, user=people[roles.COMMUNITY_MANAGER], publish_at=timezone.now() + timedelta(hours=2))
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and post.approved_hash == post.content_hash()


def test_a_second_yes_is_refused_naming_who_answered(people, account):
    post = submitted(people, account)
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    with pytest.raises(Conflict, match="Yes from"):
        services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())


def test_no_needs_a_reason_and_tells_the_author(people, account):
    post = submitted(people, account)
    with pytest.raises(InvalidInput, match="Reason is empty"):
        services.post_reject(post_id=post.id, user=people[roles.LEGAL], reason="  ", content_hash=post.content_hash())
    services.post_reject(post_id=post.id, user=people[roles.LEGAL], reason="Too soon after the outage news",
                         content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.REJECTED and "Too soon" in post.last_error
    assert LiveEvent.objects.get(kind="post.rejected").payload["reason"] == "Too soon after the outage news"


@pytest.mark.parametrize("role", [roles.COMMUNITY_MANAGER, roles.PRODUCER, roles.LEAD, roles.ADMIN])
def test_only_legal_answers_a_legal_request(people, account, role):
    post = submitted(people, account)
    with pytest.raises(Forbidden):
        services.post_approve(post_id=post.id, user=people[role], content_hash=post.content_hash())


def test_an_account_that_needs_the_lead_asks_legal_then_the_lead(people, account):
    account.lead_must_approve = True
    account.save()
    post = submitted(people, account, publish_at=timezone.now() + timedelta(hours=1))
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.PENDING and post.requests.get(state="open").step == ApprovalRequest.Step.LEAD
    services.post_approve(post_id=post.id, user=people[roles.LEAD], content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED


def test_only_the_lead_pauses_and_a_reason_is_required(people):
    for role in (roles.LEGAL, roles.COMMUNITY_MANAGER, roles.PRODUCER, roles.ADMIN):
        with pytest.raises(Forbidden):
            services.queue_pause(user=people[role], reason="no")
    with pytest.raises(InvalidInput, match="Reason is empty"):
        services.queue_pause(user=people[roles.LEAD], reason="")
    services.queue_pause(user=people[roles.LEAD], reason="Tragic news: hold everything")
    assert services.queue_state().paused
    with pytest.raises(Conflict, match="already paused"):
        services.queue_pause(user=people[roles.LEAD], reason="again")
    assert LiveEvent.objects.get(kind="queue.paused").audience == ["room"]


def test_a_pause_holds_posts_and_resume_releases_only_what_the_lead_chooses(people, account):
    due = []
    for n in range(3):
        post = submitted(people, account, text=f"Post {n}", publish_at=timezone.now() + timedelta(seconds=1))
        services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
        due.append(post.id)
    services.queue_pause(user=people[roles.LEAD], reason="Blackout")
    Post.objects.filter(id__in=due).update(publish_at=timezone.now() - timedelta(seconds=1))
    assert services.posts_due() == []
    assert [p.id for p in services.came_due_while_paused()] == due
    released = services.queue_resume(user=people[roles.LEAD], release=[due[0]])
    assert released == [due[0]]
    states = dict(Post.objects.filter(id__in=due).values_list("id", "state"))
    assert states == {due[0]: "scheduled", due[1]: "approved", due[2]: "approved"}
    assert services.posts_due() == [due[0]]
    entry = AuditEntry.objects.get(action="queue.resume")
    assert entry.details == {"released": [due[0]], "held": due[1:]}


def test_the_lint_needs_an_override_for_a_crisis_spiking_now(people, account, settings):
    settings.GUARDRAIL_BLOCKED_TERMS = ["tragedy"]
    listening.rule_create(user=people[roles.LEAD], name="Safety", kind="crisis", query="peanut* OR allergic")
    listening.mention_ingest_batch(source_id=f.source().id, fetched=[f.fetched("allergic reaction to the chips")])
    author = people[roles.COMMUNITY_MANAGER]
    post = services.post_create(author=author, account_id=account.id, text="No peanuts in our chips, ever! A tragedy averted")
    with pytest.raises(InvalidInput, match="tragedy.*Safety|Safety.*tragedy"):
        services.post_submit(post_id=post.id, user=author, checklist=TICKED)
    services.post_submit(post_id=post.id, user=author, checklist=TICKED, override_reason="Legal asked us to clarify")
    assert AuditEntry.objects.get(action="post.lint_override").details["reason"] == "Legal asked us to clarify"


def test_an_unanswered_request_goes_to_the_backup_approver_and_the_post_waits(people, account, backup):
    post = submitted(people, account, publish_at=timezone.now() + timedelta(minutes=1))
    escalated = services.approval_deadlines_check(now=timezone.now() + timedelta(minutes=2))
    request = ApprovalRequest.objects.get(id=escalated[0])
    assert request.escalated_to == backup
    assert f"user.{backup.id}" in LiveEvent.objects.get(kind="approval.escalated").audience
    assert f"user.{post.author_id}" in LiveEvent.objects.get(kind="approval.escalated").audience
    assert services.approval_deadlines_check(now=timezone.now() + timedelta(minutes=3)) == []  # told once
    post.refresh_from_db()
    assert post.state == Post.State.PENDING


def test_bad_post_input_gets_a_clear_message(people, account):
    author = people[roles.COMMUNITY_MANAGER]
    with pytest.raises(InvalidInput, match="Text is empty"):
        services.post_create(author=author, account_id=account.id, text=" \x00 ")
    with pytest.raises(InvalidInput, match="at most 280"):
        services.post_create(author=author, account_id=account.id, text="x" * 281)
    with pytest.raises(InvalidInput, match="Account"):
        services.post_create(author=author, account_id=999999, text="hi")
    with pytest.raises(Forbidden):
        services.post_create(author=people[roles.LEGAL], account_id=account.id, text="hi")
    assert not Post.objects.exists()


def test_publish_now_goes_out_when_the_last_yes_lands_however_late_and_is_never_escalated(people, account):
    author = people[roles.COMMUNITY_MANAGER]
    post = services.post_create(author=author, account_id=account.id, text="Now, please", publish_on_approval=True)
    services.post_submit(post_id=post.id, user=author, checklist=TICKED)
    assert services.approval_deadlines_check(now=timezone.now() + timedelta(hours=2)) == []
    services.post_approve(post_id=post.id, user=people[roles.LEGAL], content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED and abs(post.publish_at - timezone.now()) < timedelta(minutes=1)
    assert services.posts_due(now=timezone.now() + timedelta(seconds=1)) == [post.id]


def test_a_time_in_the_past_is_refused(people, account):
    with pytest.raises(InvalidInput, match="in the past"):
        services.post_create(author=people[roles.COMMUNITY_MANAGER], account_id=account.id, text="Late",
                             publish_at=timezone.now() - timedelta(hours=1))


# --- Who may answer: never the author, always the step's role --------------------------------


def _late(post: Post) -> ApprovalRequest:
    """Let the post's open request run past its time, so it escalates to the backup approver."""
    escalated = services.approval_deadlines_check(now=post.publish_at + timedelta(minutes=1))
    return ApprovalRequest.objects.select_related("escalated_to").get(id__in=escalated, post=post)


def test_the_author_never_answers_their_own_post_whatever_their_roles(make_user, account):
    both = make_user(roles.LEAD, "lead_and_legal")
    both.groups.add(Group.objects.get(name=roles.LEGAL))
    post = services.post_create(author=both, account_id=account.id, text="My own post", publish_at=timezone.now() + timedelta(hours=1))
    services.post_submit(post_id=post.id, user=both, checklist=TICKED)
    for answer in (lambda: services.post_approve(post_id=post.id, user=both, content_hash=post.content_hash()),
                   lambda: services.post_reject(post_id=post.id, user=both, reason="no", content_hash=post.content_hash())):
        with pytest.raises(Forbidden, match="You wrote this post, so you cannot answer its approval request"):
            answer()
    post.refresh_from_db()
    assert post.state == Post.State.PENDING and post.requests.get().state == ApprovalRequest.State.OPEN
    assert not AuditEntry.objects.filter(action__in=["post.approve", "post.reject"]).exists()


def test_the_lead_as_author_and_backup_approver_cannot_answer_after_escalation(people, account):
    """The lead writes a post on an account that needs legal then the lead, and is its backup
    approver: legal's Yes opens the lead's step, nobody answers by the time, and the
    escalation does not hand the lead their own post."""
    lead, legal = people[roles.LEAD], people[roles.LEGAL]
    account.lead_must_approve = True
    account.save()
    services.account_set_backup_approver(account_id=account.id, user=people[roles.ADMIN], approver_id=lead.id)
    post = services.post_create(author=lead, account_id=account.id, text="From the lead", publish_at=timezone.now() + timedelta(minutes=5))
    services.post_submit(post_id=post.id, user=lead, checklist=TICKED)
    with pytest.raises(Forbidden, match="You wrote this post"):  # not legal's step either
        services.post_approve(post_id=post.id, user=lead, content_hash=post.content_hash())
    services.post_approve(post_id=post.id, user=legal, content_hash=post.content_hash())

    request = _late(post)
    assert request.step == ApprovalRequest.Step.LEAD and request.escalated_to is None
    told = LiveEvent.objects.get(kind="approval.escalated")
    assert "the backup approver, Lead" in told.payload["summary"] and "wrote it" in told.payload["summary"]
    with pytest.raises(Forbidden, match="You wrote this post, so you cannot answer"):
        services.post_approve(post_id=post.id, user=lead, content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.PENDING and not post.approved_hash

    other_lead = people[roles.ADMIN]  # someone else with the lead's role answers it
    other_lead.groups.add(Group.objects.get(name=roles.LEAD))
    services.post_approve(post_id=post.id, user=get_user_model().objects.get(id=other_lead.id), content_hash=post.content_hash())
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED


def test_a_backup_approver_without_the_steps_role_is_not_sent_the_request_and_cannot_answer(people, account):
    """The lead, backup of an account that needs only legal, is not legal: a late legal request is not theirs."""
    Account.objects.filter(id=account.id).update(backup_approver=people[roles.LEAD])  # set before the rule
    post = submitted(people, account, publish_at=timezone.now() + timedelta(minutes=1))
    request = _late(post)
    assert request.escalated_to is None
    assert "does not hold legal's role" in LiveEvent.objects.get(kind="approval.escalated").payload["summary"]
    with pytest.raises(Forbidden, match="waits for legal, and your role is not that"):
        services.post_approve(post_id=post.id, user=people[roles.LEAD], content_hash=post.content_hash())


def test_a_backup_approver_who_lost_the_role_cannot_answer(people, account, backup):
    post = submitted(people, account, publish_at=timezone.now() + timedelta(minutes=1))
    assert _late(post).escalated_to == backup
    backup.groups.clear()
    with pytest.raises(Forbidden, match="waits for legal"):
        services.post_approve(post_id=post.id, user=get_user_model().objects.get(id=backup.id), content_hash=post.content_hash())
    assert Post.objects.get(id=post.id).state == Post.State.PENDING


def test_setting_a_backup_approver_needs_one_who_holds_the_steps_role(people, account, backup):
    admin, lead = people[roles.ADMIN], people[roles.LEAD]
    for who in (people[roles.COMMUNITY_MANAGER], people[roles.PRODUCER], lead):
        with pytest.raises(InvalidInput, match="a backup approver must hold legal's role"):
            services.account_set_backup_approver(account_id=account.id, user=admin, approver_id=who.id)
    assert Account.objects.get(id=account.id).backup_approver == backup
    with pytest.raises(Forbidden, match="Only the lead or an admin"):
        services.account_set_backup_approver(account_id=account.id, user=people[roles.LEGAL], approver_id=backup.id)
    with pytest.raises(InvalidInput, match="choose an active user"):
        services.account_set_backup_approver(account_id=account.id, user=admin, approver_id=999_999)

    Account.objects.filter(id=account.id).update(lead_must_approve=True)
    services.account_set_backup_approver(account_id=account.id, user=lead, approver_id=lead.id)  # the lead's step is theirs
    assert Account.objects.get(id=account.id).backup_approver == lead
    services.account_set_backup_approver(account_id=account.id, user=lead, approver_id=None)
    assert Account.objects.get(id=account.id).backup_approver is None
    assert list(AuditEntry.objects.filter(action="account.backup_approver").order_by("id").values_list("details__to", flat=True)) == [lead.username, ""]
