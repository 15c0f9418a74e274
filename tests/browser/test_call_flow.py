"""A caller's whole call in a real browser, keyboard only: sign in, next contact, search and
tick an objection, notes, a callback; then a declaration; and the same in Chinese.

Set PHONEBANK_SCREENSHOTS=/some/dir to keep the screenshots (else they go to tmp_path).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import translation
from playwright.sync_api import Page, expect

from phonebank.calling.models import CallAttempt, Outcome, Target, TargetStatus
from phonebank.contacts.models import Contact
from phonebank.lib.fields import keyring
from phonebank.registry.models import Declaration
from phonebank.registry.services import receipt_hash
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
WAIT_MS = 20_000
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
RECEIPT = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$")

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A volunteer in Europe calling into China, with an English-speaking browser.
    return {
        **browser_context_args,
        "locale": "en-US",
        "timezone_id": "Europe/Berlin",
        "viewport": LAPTOP,
    }


@pytest.fixture
def shots(tmp_path) -> Path:
    where = os.environ.get("PHONEBANK_SCREENSHOTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def queue(campaign):
    """The spring campaign open around the clock (the test must not depend on the wall
    clock), a small playbook, and two contacts in Shanghai to call, in this order."""
    campaign.calling_hours = "00:00-24:00"
    campaign.script = "## Opening\n\nHello, we are volunteers calling from abroad."
    campaign.save(update_fields=["calling_hours", "script"])
    cache.clear()  # the queue caches each campaign's time zones
    campaign.playbook.create(
        objection="I'm busy right now", response="Ask when suits them better.", order=1
    )
    campaign.playbook.create(
        objection="Why should I listen to you? I don't know you.",
        response="Say who you are and why you call.",
        order=2,
    )
    belief = campaign.playbook.create(
        objection="Isn't following the Party my freedom of belief?",
        response="Belief is a matter of conscience, not of membership.",
        order=3,
    )
    targets = [
        Target.objects.create(campaign=campaign, contact=_contact(*row))
        for row in (
            ("+8613912345678", "张伟", "科长", "某区教育局", "BJ"),
            ("+8613812345679", "李娜", "教师", "第一中学", "JS"),
        )
    ]
    return {"targets": targets, "belief": belief}


def _contact(e164, name, title, organisation, province):
    return Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name=name,
        title=title,
        organisation=organisation,
        province=province,
        timezone="Asia/Shanghai",
    )


@pytest.fixture
def problems(page: Page):
    """Console errors (CSP violations among them) and uncaught page errors."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))
    page.set_default_timeout(WAIT_MS)
    return found


def _sign_in(page: Page, live_server, caller):
    page.goto(live_server.url + "/")
    expect(page.locator("#id_username")).to_be_focused()  # autofocus
    page.keyboard.type(caller.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + "/call/spring/")
    _ready(page)


def _ready(page: Page):
    """The workspace page loaded: its deferred script and htmx listen to keys and clicks
    (autofocus can land on the button before they run, and a key pressed then is lost)."""
    page.wait_for_load_state("load")
    expect(page.locator("#next-contact")).to_be_focused()


def _tab_to(page: Page, selector: str, key: str = "Tab", limit: int = 60):
    """Press Tab (or Shift+Tab) until the element is focused, as someone at a keyboard would."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {selector}")


def _shoot(page: Page, shots: Path, name: str):
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=shots / f"{name}-{label}.png", full_page=True)
    page.set_viewport_size(LAPTOP)


def _tomorrow() -> str:
    """Tomorrow's date in Shanghai."""
    return (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()


def _zh(text: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(text)


def _no_problems(found: list[str]):
    csp = [p for p in found if "Content Security Policy" in p]
    assert not csp, csp
    assert not found, found


def test_a_whole_call_in_english_with_only_the_keyboard(
    page: Page, live_server, caller, queue, shots, problems
):
    first, second = queue["targets"]
    _sign_in(page, live_server, caller)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # N: the first contact, with name, number and local time.
    page.keyboard.press("n")
    expect(page.locator("#contact-name")).to_have_text("张伟")
    expect(page.locator("#dial")).to_have_attribute("href", "tel:+8613912345678")
    expect(page.locator("#dial")).to_contain_text("+86 139 1234 5678")
    expect(page.locator(".localtime")).to_contain_text("Asia/Shanghai")
    local = page.locator("#local-time").inner_text()
    shanghai = datetime.now(SHANGHAI)
    assert re.fullmatch(r"\d\d:\d\d", local), local
    behind = (shanghai.hour * 60 + shanghai.minute - int(local[:2]) * 60 - int(local[3:])) % 1440
    assert behind in (0, 1), (local, shanghai)
    expect(page.locator("button.outcome")).to_have_count(8)
    _shoot(page, shots, "workspace-en")

    # c: the number to the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.keyboard.press("c")
    expect(page.locator("#copy-done")).not_to_be_empty()
    assert page.evaluate("navigator.clipboard.readText()") == "+8613912345678"

    # /: search the objections; the list filters as one types.
    page.keyboard.press("/")
    expect(page.locator("#playbook-search")).to_be_focused()
    page.keyboard.type("no such objection")
    expect(page.locator("#playbook-none")).to_be_visible()
    page.locator("#playbook-search").fill("")
    page.keyboard.type("freedom")
    expect(page.locator("#playbook-none")).to_be_hidden()
    entries = page.locator(".pb-entry")
    expect(entries.filter(visible=True)).to_have_count(1)
    expect(entries.filter(visible=True)).to_contain_text("freedom of belief")

    # Tab onto the one objection left and tick it with Space; Escape leaves the field.
    page.keyboard.press("Tab")
    box = page.locator(f'input[name="objections"][value="{queue["belief"].pk}"]')
    expect(box).to_be_focused()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement === document.body")

    # Notes: no shortcut reaches them; Shift+Tab back through the page does.
    notes = "Busy at work; asked us to call tomorrow afternoon. 他说明天下午方便。"
    _tab_to(page, "#notes", "Shift+Tab")
    page.keyboard.type(notes)
    page.keyboard.press("Escape")

    # 9: the callback panel, focus in its time field; Tomorrow 15:00 (their time), submit.
    page.keyboard.press("9")
    expect(page.locator("#callback-panel")).to_have_attribute("open", "")
    expect(page.locator("#callback-local")).to_be_focused()
    _tab_to(page, '[data-callback="tomorrow-15"]')
    tomorrow = _tomorrow()
    page.keyboard.press("Enter")
    when = page.locator("#callback-local").input_value()
    assert when[:10] in {tomorrow, _tomorrow()} and when.endswith("T15:00"), when
    expect(page.locator("#callback-mine")).not_to_have_text("—")
    _tab_to(page, '#callback-panel button[type="submit"]')
    page.keyboard.press("Enter")
    expect(page.locator(".msg-success")).to_have_text("Recorded: Callback.")

    attempt = CallAttempt.objects.get(target=first)
    assert attempt.outcome == Outcome.CALLBACK
    assert attempt.caller == caller
    assert list(attempt.objections.all()) == [queue["belief"]]
    assert attempt.notes == notes
    first.refresh_from_db()
    assert first.status == TargetStatus.CALLBACK
    assert first.callback_caller == caller
    agreed = datetime.fromisoformat(when).replace(tzinfo=SHANGHAI)
    assert first.next_call_at == agreed.astimezone(UTC)
    assert first.next_call_at.astimezone(UTC).hour == 7  # 15:00 in Shanghai (UTC+8)

    # N again: the other contact; 0: the declaration, alias in Chinese, every organisation.
    expect(page.locator("#next-contact")).to_be_focused()
    page.keyboard.press("n")
    expect(page.locator("#contact-name")).to_have_text("李娜")
    page.keyboard.press("9")  # a callback form first, then the declaration: one at a time
    expect(page.locator("#callback-panel")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    page.keyboard.press("0")
    expect(page.locator("#declare-panel")).to_have_attribute("open", "")
    expect(page.locator("#callback-panel")).not_to_have_attribute("open", "")
    expect(page.locator("#alias")).to_be_focused()
    page.keyboard.type("明天会更好")
    organisations = page.locator('#declare-panel input[name="organisations"]')
    codes = [organisations.nth(i).get_attribute("value") for i in range(organisations.count())]
    assert codes, "the campaign offers no organisations"
    for code in codes:
        _tab_to(page, f'#declare-panel input[name="organisations"][value="{code}"]')
        page.keyboard.press("Space")
    _tab_to(page, "#consent")
    page.keyboard.press("Space")
    expect(page.locator("#consent")).to_be_checked()
    _tab_to(page, '#declare-panel button[type="submit"]')
    page.keyboard.press("Enter")

    receipt = page.locator("#receipt-code")
    expect(receipt).to_have_text(RECEIPT)
    expect(page.locator(".msg-success")).to_have_text("Recorded: Declared.")
    code = receipt.inner_text()
    declaration = Declaration.objects.get(alias="明天会更好")
    assert declaration.receipt_hash == receipt_hash(code)
    assert set(declaration.organisations.values_list("code", flat=True)) == set(codes)
    second.refresh_from_db()
    assert second.status == TargetStatus.DONE
    assert CallAttempt.objects.get(target=second).outcome == Outcome.DECLARED
    _no_problems(problems)


def test_the_same_call_in_simplified_chinese(
    page: Page, live_server, caller, queue, shots, problems
):
    first, second = queue["targets"]
    _sign_in(page, live_server, caller)

    # The header's language form.
    page.locator("#language").select_option("zh-hans")
    page.locator(".langswitch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(live_server.url + "/call/spring/")
    _ready(page)
    expect(page.locator("#next-contact")).to_contain_text(_zh("Next contact"))

    page.keyboard.press("n")
    expect(page.locator("#contact-name")).to_have_text("张伟")
    expect(page.locator("#callback-panel summary")).to_contain_text(_zh("Callback"))
    _shoot(page, shots, "workspace-zh")

    # 9, a time typed into the field, and Enter right there: a callback, nothing else.
    page.keyboard.press("9")
    expect(page.locator("#callback-local")).to_be_focused()
    tomorrow = _tomorrow()
    page.locator("#callback-local").fill(f"{tomorrow}T10:00")
    page.keyboard.press("Enter")
    callback = _zh("Recorded: %(outcome)s.") % {"outcome": _zh("Callback")}
    expect(page.locator(".msg-success")).to_have_text(callback)
    first.refresh_from_db()
    assert first.status == TargetStatus.CALLBACK
    expected = datetime.fromisoformat(f"{tomorrow}T10:00").replace(tzinfo=SHANGHAI)
    assert first.next_call_at == expected.astimezone(UTC)
    assert CallAttempt.objects.get(target=first).outcome == Outcome.CALLBACK

    # N, 0: a declaration under a Chinese alias, the Party only.
    page.keyboard.press("n")
    expect(page.locator("#contact-name")).to_have_text("李娜")
    page.keyboard.press("0")
    expect(page.locator("#alias")).to_be_focused()
    page.keyboard.type("自由")
    _tab_to(page, '#declare-panel input[name="organisations"][value="party"]')
    page.keyboard.press("Space")
    _tab_to(page, "#consent")
    page.keyboard.press("Space")
    _tab_to(page, '#declare-panel button[type="submit"]')
    page.keyboard.press("Enter")
    expect(page.locator("#receipt-code")).to_have_text(RECEIPT)
    declaration = Declaration.objects.get(alias="自由")
    assert list(declaration.organisations.values_list("code", flat=True)) == ["party"]
    assert declaration.receipt_hash == receipt_hash(page.locator("#receipt-code").inner_text())
    second.refresh_from_db()
    assert second.status == TargetStatus.DONE
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    _no_problems(problems)
