"""A page stops receiving the room the moment its user's right to read ends: signing out in
one tab ends the other tab's socket, and the page says "signed out" instead of trying to
reconnect forever. Every page here runs under the room's Content-Security-Policy."""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.e2e.support import announce_here, off_main_thread, signed_in_page, wait_until  # noqa: F401  (a fixture)
from warroom import roles


def watch_sockets(page) -> list:
    """Every WebSocket the page opens, with the text frames it received: [(socket, [text])]."""
    sockets = []

    def opened(socket):
        frames: list[str] = []
        sockets.append((socket, frames))
        socket.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else ""))

    page.on("websocket", opened)
    return sockets


def test_signing_out_in_one_tab_closes_the_other_tabs_socket_and_nothing_more_arrives(
    transactional_db, room_server, signed_in_page, make_user  # noqa: F811
):
    lead = make_user(roles.LEAD, "lead")
    lena = make_user(roles.LEGAL, "lena")
    control = signed_in_page(room_server, make_user(roles.COMMUNITY_MANAGER, "maya"))  # stays signed in
    first_tab = signed_in_page(room_server, lena)
    second_tab = first_tab.context.new_page()  # the same browser, so the same session
    sockets = watch_sockets(second_tab)
    second_tab.goto(room_server.url + "/")
    expect(second_tab.locator("#connection")).to_have_class("dot dot-live", timeout=15000)

    announce_here(lead, "Before the sign-out: hold the halftime post")
    expect(second_tab.locator("#room-events .event").first).to_contain_text("Before the sign-out")

    first_tab.get_by_role("button", name="Sign out").click()
    first_tab.wait_for_url(f"{room_server.url}/login/")

    expect(second_tab.locator("#connection .dot-label")).to_have_text("signed out")
    banner = second_tab.locator("#signed-out")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("link", name="Sign in again")).to_have_attribute("href", "/login/?next=/")
    [(socket, frames)] = sockets
    wait_until(second_tab, "document.body.dataset.connection === 'signed-out'")
    assert socket.is_closed()

    after = announce_here(lead, "After the sign-out: the mention text of case 41")
    # The page still signed in gets it, and its socket's sync moves past it: by then the
    # push, and any catch-up, has gone to every socket that could receive it.
    expect(control.locator("#room-events .event").first).to_contain_text("After the sign-out")
    wait_until(control, "n => Number(document.body.dataset.liveVerified || 0) >= n", arg=after)
    assert "After the sign-out" not in second_tab.locator("#room-events").inner_text()
    assert not any("After the sign-out" in frame for frame in frames)
    assert len(sockets) == 1, "the signed-out page opened another socket"
    expect(second_tab.locator("#connection .dot-label")).to_have_text("signed out")


def test_a_deactivated_users_page_says_signed_out_after_one_reconnect(
    transactional_db, room_server, signed_in_page, make_user  # noqa: F811
):
    lena = make_user(roles.LEGAL, "lena")
    page = signed_in_page(room_server, lena)
    sockets = watch_sockets(page)

    def deactivate():
        user = User.objects.get(id=lena.id)
        user.is_active = False
        user.save()  # as the Django admin's checkbox does

    off_main_thread(deactivate)

    expect(page.locator("#connection .dot-label")).to_have_text("signed out", timeout=10000)
    expect(page.locator("#signed-out")).to_be_visible()
    # The access change closed the socket, and the page reconnected once, to be told the
    # session no longer signs anyone in: no more sockets after that.
    assert len(sockets) == 1 and sockets[0][0].is_closed()


def test_the_policy_blocks_an_injected_script_and_the_tests_see_it(
    transactional_db, room_server, signed_in_page, make_user, csp_violations  # noqa: F811
):
    page = signed_in_page(room_server, make_user(roles.LEAD, "lead"))
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.__injected = true";
      document.body.appendChild(script);
    }""")
    for _ in range(100):  # the report comes back to the test a moment later
        if csp_violations:
            break
        page.wait_for_timeout(50)
    assert page.evaluate("window.__injected === undefined")
    assert any(v.get("directive") == "script-src-elem" for v in csp_violations), csp_violations
    csp_violations.clear()  # seen and expected: the guard must not fail this test


@pytest.mark.parametrize("path", ["/", "/queue/", "/approvals/", "/playbooks/", "/wall/", "/feed/", "/audit/"])
def test_every_page_runs_without_a_policy_violation(transactional_db, room_server, signed_in_page, make_user, path):  # noqa: F811
    page = signed_in_page(room_server, make_user(roles.LEAD, "lead"), path)
    expect(page.locator("#main")).not_to_be_empty()
    page.evaluate("0")
    # The guard (csp_violations, asserted at teardown) fails the test on any report.
