"""Playbook YAML: a documented schema, errors that name the field and the line, nothing
half-imported, and export -> import -> export gives the same text."""

import pytest

from approvals.models import Account, Post
from listening import services as listening
from listening.models import AlertRule
from playbooks import yaml_io
from playbooks.models import Contact, Event, Moment, Scenario, Variant
from warroom import roles
from warroom.errors import Forbidden

pytestmark = pytest.mark.django_db(transaction=True)

EMMYS = """\
version: 1
event:
  name: Emmys 2026
  starts_at: "2026-09-14T17:00:00-07:00"
  ends_at: "2026-09-14T20:30:00-07:00"
  time_zone: America/Los_Angeles
  hashtags: [Emmys, EmmysLive]
  accounts: [brand_us]
  guardrails:
    do: [Celebrate the winners]
    dont: [Joke about losers]
    sensitive_topics: [politics]
    checklist: [No spoilers before the West Coast]
  contacts:
    - {name: Priya Shah, role: Producer, phone: "+1 212 555 0100", email: priya@example.com}
    - {name: Lena Ortiz, role: Legal, phone: "+1 212 555 0101"}
  scenarios:
    - name: Our show wins Best Drama
      trigger: keywords
      keywords: [best drama]
      variants:
        - {account: brand_us, label: Big, text: "Best Drama. Best night. Congratulations! 🏆"}
        - {account: brand_us, label: Small, text: "Drama, but make it award-winning."}
    - name: Power cut
      trigger: rule
      rule: Power cut
      expires_minutes: 5
      variants:
        - {account: brand_us, text: "Lights out? Our snacks glow in the dark."}
  run_of_show:
    - {at: "2026-09-14T17:00:00-07:00", title: Red carpet}
    - {at: "2026-09-14T19:45:00-07:00", title: Best Drama, scenarios: [Our show wins Best Drama]}
"""


@pytest.fixture
def producer(make_user):
    return make_user(roles.PRODUCER)


@pytest.fixture
def setup(db, make_user):
    Account.objects.create(name="Brand US", handle="brand_us")
    listening.rule_create(user=make_user(roles.LEAD, "lead"), name="Power cut", kind=AlertRule.Kind.KEYWORD,
                          query="blackout")


def nothing_stored():
    return not (Event.objects.exists() or Scenario.objects.exists() or Variant.objects.exists()
                or Post.objects.exists() or Contact.objects.exists() or Moment.objects.exists())


def test_import_creates_the_whole_event_with_draft_variants(setup, producer):
    event = yaml_io.playbook_import(user=producer, text=EMMYS)
    assert event.name == "Emmys 2026" and event.time_zone == "America/Los_Angeles"
    assert [c.name for c in event.contacts.all()] == ["Priya Shah", "Lena Ortiz"]
    assert event.guardrails["checklist"] == ["No spoilers before the West Coast"]
    wins = event.scenarios.get(name="Our show wins Best Drama")
    assert [v.post.text for v in wins.variants.all()][0].endswith("🏆")
    assert set(Post.objects.values_list("state", flat=True)) == {Post.State.DRAFT}
    assert [m.title for m in event.moments.all()] == ["Red carpet", "Best Drama"]
    assert list(event.moments.get(title="Best Drama").scenarios.all()) == [wins]


def test_export_then_import_round_trips_exactly(setup, producer):
    event = yaml_io.playbook_import(user=producer, text=EMMYS)
    first = yaml_io.playbook_export(event)
    event.delete()
    again = yaml_io.playbook_import(user=producer, text=first)
    assert yaml_io.playbook_export(again) == first
    assert "2026-09-14T17:00:00-07:00" in first


@pytest.mark.parametrize(("change", "message"), [
    (("  time_zone: America/Los_Angeles\n", ""), "event.time_zone (line 3): missing (required)"),
    (("      expires_minutes: 5\n", "      expires_minutes: soon\n"),
     "event.scenarios[1].expires_minutes (line 27): expected a whole number, got text ('soon')"),
    (("  hashtags: [Emmys, EmmysLive]\n", "  hashtags: Emmys\n"), "event.hashtags (line 7): expected a list"),
    (("{account: brand_us, text: \"Lights", "{account: brand_uk, text: \"Lights"),
     "event.scenarios[1].variants[0].account (line 29): unknown account 'brand_uk'"),
    (("  accounts: [brand_us]\n", "  accounts: [brand_us, ghost]\n"),
     "event.accounts[1] (line 8): unknown account 'ghost'"),
    (("      rule: Power cut\n", "      rule: Earthquake\n"), "event.scenarios[1].rule (line 26): unknown listening rule"),
    (("      trigger: rule\n", "      trigger: vibes\n"), "event.scenarios[1].trigger (line 25): must be one of"),
    (("  contacts:\n", "  contact:\n"), "event.contact (line 14): unknown field"),
    (("version: 1\n", "version: [1\n"), "YAML syntax"),
])
def test_bad_files_get_errors_naming_field_and_line_and_nothing_is_stored(setup, producer, change, message):
    text = EMMYS.replace(*change)
    assert text != EMMYS
    with pytest.raises(yaml_io.PlaybookInvalid) as raised:
        yaml_io.playbook_import(user=producer, text=text)
    assert any(message in error for error in raised.value.errors), raised.value.errors
    assert nothing_stored()


def test_an_error_late_in_the_file_leaves_nothing_half_imported(setup, producer):
    # Valid for the schema, refused by a service half-way (a contact's phone): all rolled back.
    text = EMMYS.replace('phone: "+1 212 555 0101"', 'phone: "call me maybe"')
    with pytest.raises(Exception, match="Phone"):
        yaml_io.playbook_import(user=producer, text=text)
    assert nothing_stored()


def test_an_existing_event_name_is_refused(setup, producer):
    yaml_io.playbook_import(user=producer, text=EMMYS)
    with pytest.raises(yaml_io.PlaybookInvalid, match="already exists"):
        yaml_io.playbook_import(user=producer, text=EMMYS)
    assert Event.objects.count() == 1


def test_legal_cannot_import(setup, make_user):
    with pytest.raises(Forbidden):
        yaml_io.playbook_import(user=make_user(roles.LEGAL), text=EMMYS)
    assert nothing_stored()
