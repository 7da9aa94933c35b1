"""Two people in the room see the same event at the same moment, without reloading."""

from playwright.sync_api import expect

from tests.conftest import manage
from warroom import roles


def test_two_users_see_an_event_published_from_another_process(transactional_db, room_server, new_page, make_user):
    lead = make_user(roles.LEAD, "lead")
    manager_page = new_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya"))
    legal_page = new_page(room_server, make_user(roles.LEGAL, "lena"))

    manage("announce", "Blackout in the stadium: hold every scheduled post", "--as", lead.username, "--urgent")

    for page in (manager_page, legal_page):
        expect(page.locator("#room-events .event").first).to_contain_text("Blackout in the stadium", timeout=10000)
        expect(page.locator("#toasts .toast-urgent")).to_contain_text("Blackout in the stadium")
    assert manager_page.evaluate("performance.getEntriesByType('navigation').length") == 1
