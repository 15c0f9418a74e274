"""The coordinator dashboards in a real browser, in English and in Simplified Chinese: a
campaign with three days of calls recorded through the real services (claims, outcomes,
objections ticked, declarations), its dashboard's headings and figures, every chart loaded
and drawn (element screenshots decoded here and counted pixel by pixel: a blank or broken
chart fails), Chinese labels drawn as glyphs in the Chinese charts, the tables behind the
charts opened with the keyboard, the htmx refresh, the objections page and the admins'
overview.

Every page's console errors and uncaught exceptions are collected (a CSP violation is a
console error) and must stay empty. The live server's request threads and the test share
the module's SQLite file database (tests/browser/conftest.py): what the test commits, the
server reads.

Set PHONEBANK_SCREENSHOTS=/some/dir to keep the screenshots (else they go to tmp_path).
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone, translation
from playwright.sync_api import Locator, Page, expect

from phonebank.accounts.models import Role
from phonebank.accounts.services import membership_add, user_create
from phonebank.calling import services as calling
from phonebank.calling.models import CallAttempt, Outcome, Target
from phonebank.campaigns.services import campaign_update, playbook_entry_save
from phonebank.contacts.models import Contact
from phonebank.dashboards import views as dashboard_views
from phonebank.lib import provinces
from phonebank.lib.charts import STYLE
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WAIT_MS = 20_000
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
CAMPAIGN_CHARTS = ("days", "cumulative", "funnel", "provinces", "hours")

# What the callers did: (days ago, caller, outcome, objections ticked), in this order.
# All time: dialled 10, reached 7 (2 listened, 2 declared, 2 refused, 1 hung up),
# listened 4, declared 2. Today: 4 calls, 3 reached, 1 declared.
CALLS = [
    (2, "cal", Outcome.NO_ANSWER, ()),
    (2, "cleo", Outcome.LISTENED, ("busy",)),
    (2, "cal", Outcome.REFUSED, ("belief",)),
    (1, "cleo", Outcome.DECLARED, ("belief",)),
    (1, "cal", Outcome.HUNG_UP, ()),
    (1, "cal", Outcome.BUSY, ()),
    (0, "cal", Outcome.DECLARED, ("belief",)),
    (0, "cleo", Outcome.LISTENED, ()),
    (0, "cal", Outcome.NO_ANSWER, ()),
    (0, "cal", Outcome.REFUSED, ("belief", "busy")),
]
OBJECTIONS = {
    "busy": "I'm busy right now",
    "belief": "Isn't following the Party my freedom of belief?",
    "stranger": "Why should I listen to you? I don't know you.",  # never ticked
}
PROVINCES = ["BJ", "SH", "GD", "BJ", "ZJ", "SH", "BJ", "GD", "SC", "BJ", "SH", "GD"]

expect.set_options(timeout=WAIT_MS)


# -- the campaign's history -----------------------------------------------------------------


@dataclass
class History:
    today: date  # in Shanghai, the campaign's and the contacts' time zone
    attempts: list[CallAttempt]


@pytest.fixture
def history(campaign, coordinator, caller, other_campaign) -> History:
    """Ten calls over three days by two callers, through the real claim and outcome
    services, so the rollups are the ones production keeps. The coordinator also runs the
    autumn campaign, which has no calls at all."""
    campaign_update(campaign=campaign, actor=None, calling_hours="00:00-24:00")
    cache.clear()  # the queue caches each campaign's time zones
    entries = {
        key: playbook_entry_save(
            campaign=campaign, actor=None, objection=text, response="…", order=i
        )
        for i, (key, text) in enumerate(OBJECTIONS.items(), start=1)
    }
    membership_add(user=coordinator, campaign=other_campaign, actor=None)
    callers = {
        "cal": caller,
        "cleo": user_create(
            username="cleo", password=PASSWORD, role=Role.CALLER, campaign=campaign
        ),
    }
    for n, province in enumerate(PROVINCES):
        e164 = f"+86139{n:08d}"
        contact = Contact.objects.create(
            blind_index=keyring().blind_index(e164),
            phone=e164,
            name=f"联系人{n}",
            province=province,
            timezone="Asia/Shanghai",
        )
        Target.objects.create(campaign=campaign, contact=contact)

    # Today's calls a few minutes ago (active callers), but never before Shanghai's midnight;
    # the earlier days' at the same time of day.
    now = timezone.now()
    midnight = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    anchor = max(now - timedelta(minutes=10), midnight.astimezone(UTC))
    attempts = []
    for i, (days_ago, who, outcome, ticked) in enumerate(CALLS):
        when = anchor - timedelta(days=days_ago) + timedelta(seconds=i)
        claimed = calling.target_claim(campaign=campaign, caller=callers[who], now=when)
        assert claimed is not None, f"nobody to call at call {i}"
        extra = {}
        if outcome == Outcome.DECLARED:
            extra["declaration"] = {"alias": "自由", "organisations": ["party"], "consent": True}
        attempt, _receipt = calling.outcome_record(
            target=claimed.target,
            caller=callers[who],
            outcome=outcome,
            objections=[entries[k].pk for k in ticked],
            now=when,
            **extra,
        )
        attempts.append(attempt)
    return History(today=anchor.astimezone(SHANGHAI).date(), attempts=attempts)


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "locale": "en-US",
        "timezone_id": "Europe/Berlin",
        "viewport": LAPTOP,
    }


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught page errors."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))
    page.set_default_timeout(WAIT_MS)
    return found


@pytest.fixture
def shots(tmp_path) -> Path:
    where = os.environ.get("PHONEBANK_SCREENSHOTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def _in(language: str, text: str) -> str:
    """A message as the site shows it in a language; in Chinese it must be Chinese (an
    untranslated message would show in English)."""
    with translation.override(language):
        shown = translation.gettext(text)
    if language.startswith("zh"):
        assert CHINESE.search(shown), f"no {language} translation of {text!r}"
    return shown


def _sign_in(page: Page, live_server, user, language: str = "en") -> None:
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name=_in(language, "Sign in")).click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def _switch_language(page: Page, code: str) -> None:
    """The header's language form, on the page one is on."""
    url = page.url
    page.locator("#language").select_option(code)
    page.locator(".langswitch button").click()
    expect(page.locator("html")).to_have_attribute("lang", code)
    expect(page).to_have_url(url)


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element is focused, as someone at a keyboard would."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def _expect_rows(table: Locator, rows: list[list[str]]) -> None:
    found = table.locator("tbody tr")
    expect(found).to_have_count(len(rows))
    for i, row in enumerate(rows):
        expect(found.nth(i).locator("td")).to_have_text(row)


def _rows(table: Locator) -> list[list[str]]:
    return table.locator("tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent.trim()))"
    )


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%"


def _no_problems(found: list[str]) -> None:
    csp = [p for p in found if "Content Security Policy" in p]
    assert not csp, csp
    assert not found, found


def _shoot(page: Page, shots: Path, name: str) -> None:
    """Full-page screenshots on a laptop and on a phone. On the phone the page is no wider
    than the screen, each chart keeps a width where its labels can be read (at least 640
    CSS pixels for the 900 it is drawn at), scrolling sideways in its box, and the charts
    of days start scrolled to their end: today."""
    _charts_loaded(page)
    page.screenshot(path=shots / f"{name}-laptop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.reload()
    _charts_loaded(page)
    page.screenshot(path=shots / f"{name}-phone.png", full_page=True)
    page_width, screen = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert page_width <= screen, f"{name}: the page is {page_width}px wide on a {screen}px phone"
    charts = page.locator("img.chart").evaluate_all(
        "imgs => imgs.map(i => i.getBoundingClientRect().width)"
    )
    assert all(w >= 640 for w in charts), f"{name}: charts too small on a phone: {charts}"
    ends = page.locator('.chart-box[data-scroll="end"]').evaluate_all(
        "boxes => boxes.map(b => b.scrollWidth - b.clientWidth - b.scrollLeft)"
    )
    assert len(ends) == 2 and all(left <= 1 for left in ends), f"{name}: not at today: {ends}"
    page.set_viewport_size(LAPTOP)


# -- pixels ---------------------------------------------------------------------------------


@dataclass
class Picture:
    """A decoded screenshot: RGB rows."""

    width: int
    height: int
    rows: list[bytes]

    def colours(self, left=0.0, top=0.0, right=1.0, bottom=1.0) -> Counter[tuple[int, ...]]:
        """Colour → number of pixels in a box given as fractions of the width and height."""
        x0, x1 = int(left * self.width), int(right * self.width)
        found: Counter[tuple[int, ...]] = Counter()
        for row in self.rows[int(top * self.height) : int(bottom * self.height)]:
            part = row[3 * x0 : 3 * x1]
            found.update(zip(part[0::3], part[1::3], part[2::3], strict=True))
        return found


def _decode(png: bytes) -> Picture:
    """PNG bytes → pixels, by hand (Pillow is not a dependency): 8-bit RGB or RGBA, not
    interlaced, which is what Chromium's screenshots are."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, header, data = 8, None, []
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        pos += 12 + length  # length, type, body, CRC
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data.append(body)
        elif kind == b"IEND":
            break
    assert header is not None, "a PNG without IHDR"
    width, height, depth, colour_type, _compression, _filter, interlace = header
    assert (depth, interlace) == (8, 0) and colour_type in (2, 6), header
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(b"".join(data))
    assert len(raw) == height * (stride + 1), "truncated image data"
    rows, above = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if method == 2:  # Up: the most common filter here, done a row at a time
            line = bytearray((a + b) & 0xFF for a, b in zip(line, above, strict=True))
        elif method in (1, 3, 4):
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                up = above[i]
                if method == 1:
                    line[i] = (line[i] + left) & 0xFF
                elif method == 3:
                    line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
                else:
                    corner = above[i - channels] if i >= channels else 0
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    line[i] = (line[i] + pred) & 0xFF
        above = bytes(line)
        rgb = above if channels == 3 else bytes(b for i, b in enumerate(above) if i % 4 != 3)
        rows.append(rgb)
    return Picture(width, height, rows)


def _coloured(colours: Counter) -> int:
    """Pixels of a series' colour: the bars and lines (text, axes and guides are grey)."""
    return sum(n for c, n in colours.items() if max(c) - min(c) > 50)


def _dark(colours: Counter) -> int:
    """Pixels of text: dark grey to black."""
    return sum(n for c, n in colours.items() if max(c) < 140)


def _charts_loaded(page: Page) -> None:
    """Every chart <img> on the page finished loading and decoded to a picture."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.chart')].every(i => i.complete)"
    )
    sizes = page.locator("img.chart").evaluate_all(
        "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight])"
    )
    assert sizes, "no chart on the page"
    broken = [s for s in sizes if not (s[1] > 0 and s[2] > 0)]
    assert not broken, f"charts that did not load: {broken}"


def _chart_drawn(img: Locator, shots: Path, name: str) -> Picture:
    """The chart, as it is on screen, is a drawing: many pixels unlike the background, and
    bars or lines in the series' colours among them. A blank, empty or broken chart fails."""
    img.scroll_into_view_if_needed()
    picture = _decode(img.screenshot(path=shots / f"{name}.png"))
    colours = picture.colours()
    total = sum(colours.values())
    background, plain = colours.most_common(1)[0]
    drawn = 1 - plain / total
    assert drawn > 0.02, f"{name}: {drawn:.1%} of it differs from the background {background}"
    assert _coloured(colours) > 0.002 * total, f"{name}: no bars or lines drawn"
    assert _dark(colours) > 0.002 * total, f"{name}: no text drawn"
    return picture


def _all_charts_drawn(page: Page, shots: Path, prefix: str) -> dict[str, Picture]:
    _charts_loaded(page)
    charts = page.locator("img.chart")
    drawn = {}
    for i in range(charts.count()):
        src = charts.nth(i).get_attribute("src") or ""
        name = re.search(r"/charts/([a-z]+)\.svg", src)
        assert name, src
        drawn[name.group(1)] = _chart_drawn(charts.nth(i), shots, f"{prefix}-{name.group(1)}")
    return drawn


def _label_ink(picture: Picture) -> int:
    """Text pixels left of a horizontal bar chart's axis, between its ends: the labels of
    the bars. The axis is the leftmost column that is dark over a fifth of the height."""
    for x in range(picture.width // 4):
        dark = [y for y in range(picture.height) if max(picture.rows[y][3 * x : 3 * x + 3]) < 200]
        if len(dark) > picture.height // 5:
            top, bottom = dark[0] / picture.height, (dark[-1] + 1) / picture.height
            return _dark(picture.colours(right=(x - 2) / picture.width, top=top, bottom=bottom))
    raise AssertionError("no axis found in the chart")


def _glyphs_distinct(page: Page, words: list[str]) -> None:
    """Each word, drawn in the charts' fonts, is a different shape with ink: real glyphs,
    not the same empty box for every character (what a missing CJK font gives)."""
    drawings = page.evaluate(
        """([words, font]) => words.map(w => {
            const c = document.createElement('canvas');
            c.width = 120; c.height = 30;
            const g = c.getContext('2d');
            g.font = '20px ' + font;
            g.fillText(w, 2, 24);
            const px = g.getImageData(0, 0, c.width, c.height).data;
            let ink = 0, sig = '';
            for (let i = 3; i < px.length; i += 4) { if (px[i] > 128) ink++; sig += px[i] > 128 ? 1 : 0; }
            return [ink, sig];
        })""",
        [words, STYLE.font_family],
    )
    for word, (ink, _sig) in zip(words, drawings, strict=True):
        assert ink > 40, f"{word!r} draws almost nothing ({ink} pixels)"
    signatures = {sig for _ink, sig in drawings}
    assert len(signatures) == len(words), f"{words} draw the same shapes: no CJK font?"


# -- expected figures, counted from the calls -----------------------------------------------

REACHED = {
    Outcome.HUNG_UP,
    Outcome.REFUSED,
    Outcome.DO_NOT_CALL,
    Outcome.CALLBACK,
    Outcome.LISTENED,
    Outcome.DECLARED,
}


def _province_table(history: History, language: str) -> dict[str, list[str]]:
    per: dict[str, Counter] = {}
    for a in history.attempts:
        code = Target.objects.get(pk=a.target_id).contact.province
        counts = per.setdefault(code, Counter())
        counts["calls"] += 1
        counts["reached"] += a.outcome in REACHED
        counts["declared"] += a.outcome == Outcome.DECLARED
    return {
        provinces.name(code, language): [
            provinces.name(code, language),
            str(c["calls"]),
            _pct(c["reached"], c["calls"]),
            str(c["declared"]),
        ]
        for code, c in per.items()
    }


def _expect_dashboard(page: Page, history: History, language: str) -> None:
    """The headings and figures of the spring campaign's dashboard, in the language."""

    def t(text: str) -> str:
        return _in(language, text)

    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page).to_have_title(f"{t('Dashboard')} · Spring calls · phonebank")
    expect(page.locator("h1")).to_have_text("Spring calls")
    expect(page.locator("nav.tabs [aria-current=page]")).to_have_text(t("Dashboard"))
    with translation.override(language):
        days_heading = translation.ngettext(
            "Calls per day, last %(n)s day", "Calls per day, last %(n)s days", 30
        ) % {"n": 30}
    headings = {
        "#h-today": t("Today"),
        "#h-days": days_heading,
        "#h-funnel": t("From dialled to declared (all time)"),
        "#h-outcomes": t("Calls by outcome (all time)"),
        "#h-queue": t("Queue health"),
        "#h-provinces": t("By province (all time)"),
        "#h-hours": t("When do people pick up?"),
        "#h-callers": t("Callers today"),
    }
    for selector, text in headings.items():
        expect(page.locator(selector)).to_have_text(text)

    # Today: 4 calls, 3 reached, 1 declared; both callers called in the last half hour.
    today = page.locator("section[aria-labelledby=h-today] dl.stats > div")
    expect(today.locator("dt")).to_have_text(
        [
            t("Calls"),
            t("Reached"),
            t("Contact rate"),
            t("Declarations"),
            t("Callable now"),
            t("Callers active now"),
        ]
    )
    expect(today.locator("dd").nth(0)).to_have_text("4")
    expect(today.locator("dd").nth(1)).to_have_text("3")
    expect(today.locator("dd").nth(2)).to_have_text("75%")
    expect(today.locator("dd").nth(3)).to_have_text("1")
    expect(today.locator("dd").nth(5)).to_have_text("2")
    expect(page.locator("#callable-now")).to_have_text(re.compile(r"^\d+$"))

    # The funnel: 10 dialled, 7 reached (70%), 4 listened (57% of 7), 2 declared (50% of 4).
    _expect_rows(
        page.locator("#funnel-table"),
        [
            [t("Dialled"), "10", "—"],
            [t("Reached"), "7", "70%"],
            [t("Listened"), "4", "57%"],
            [t("Declared"), "2", "50%"],
        ],
    )
    outcomes = dict(_rows(page.locator("#outcomes-table")))  # type: ignore[arg-type]
    with translation.override(language):
        labels = {code: str(label) for code, label in Outcome.choices}
    assert outcomes == {
        labels[Outcome.NO_ANSWER]: "2",
        labels[Outcome.BUSY]: "1",
        labels[Outcome.HUNG_UP]: "1",
        labels[Outcome.WRONG_NUMBER]: "0",
        labels[Outcome.INVALID_NUMBER]: "0",
        labels[Outcome.REFUSED]: "2",
        labels[Outcome.DO_NOT_CALL]: "0",
        labels[Outcome.CALLBACK]: "0",
        labels[Outcome.LISTENED]: "2",
        labels[Outcome.DECLARED]: "2",
    }

    # Calls per day, newest first: today 4 (3 reached, 1 declared), yesterday 3 (2, 1),
    # the day before 3 (2, 0); the running total of declarations 2, 1, 0.
    days = _rows(page.locator("#days-table"))
    assert len(days) == 30
    day = history.today
    assert days[:3] == [
        [day.isoformat(), "4", "3", "1", "2"],
        [(day - timedelta(days=1)).isoformat(), "3", "2", "1", "1"],
        [(day - timedelta(days=2)).isoformat(), "3", "2", "0", "0"],
    ]
    assert all(row[1:] == ["0", "0", "0", "0"] for row in days[3:])

    # By province: what the calls say, most declarations first, in the language's names.
    shown = {row[0]: row for row in _rows(page.locator("#provinces-table"))}
    assert shown == _province_table(history, language)
    declared = [int(row[3]) for row in _rows(page.locator("#provinces-table"))]
    assert declared == sorted(declared, reverse=True)

    hours = _rows(page.locator("#hours-table"))
    assert sum(int(row[1]) for row in hours) == 10

    # Callers today, in name order: cal 3 calls (2 reached, 1 declared), cleo 1 (1, 0).
    callers = _rows(page.locator("#callers-table"))
    assert [[r[0], r[2], r[3], r[4]] for r in callers] == [
        ["cal", "3", "2", "1"],
        ["cleo", "1", "1", "0"],
    ]
    assert all(r[1] == t("active") for r in callers)
    for summary in page.locator("details.figures > summary").all():
        expect(summary).to_have_text(t("The figures as a table"))


# -- the tests ------------------------------------------------------------------------------


def test_the_campaign_dashboard_in_english(
    page: Page, live_server, coordinator, history, shots, problems
):
    _sign_in(page, live_server, coordinator)
    expect(page).to_have_url(live_server.url + "/campaigns/")
    page.get_by_role("link", name="Spring calls").click()
    page.locator("nav.tabs").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(live_server.url + "/dashboards/spring/")
    _expect_dashboard(page, history, "en")

    drawn = _all_charts_drawn(page, shots, "dashboard-en")
    assert set(drawn) == set(CAMPAIGN_CHARTS)

    # The tables behind the charts open from the keyboard: Tab to the summary, Enter.
    for heading, table in (("h-days", "#days-table"), ("h-provinces", "#provinces-table")):
        expect(page.locator(table)).to_be_hidden()
        _tab_to(page, f"section[aria-labelledby={heading}] details.figures > summary")
        page.keyboard.press("Enter")
        expect(page.locator(table)).to_be_visible()
    _tab_to(page, "section[aria-labelledby=h-hours] details.figures > summary")
    page.keyboard.press("Space")
    expect(page.locator("#hours-table")).to_be_visible()

    _shoot(page, shots, "dashboard-en")
    _no_problems(problems)


def test_the_campaign_dashboard_in_chinese_with_chinese_charts(
    page: Page, live_server, coordinator, history, shots, problems
):
    _sign_in(page, live_server, coordinator)
    page.goto(live_server.url + "/dashboards/spring/")
    _expect_dashboard(page, history, "en")
    english = _all_charts_drawn(page, shots, "dashboard-en")

    _switch_language(page, "zh-hans")
    _expect_dashboard(page, history, "zh-hans")
    chinese = _all_charts_drawn(page, shots, "dashboard-zh")
    assert set(chinese) == set(CAMPAIGN_CHARTS)

    # The province chart carries Chinese labels now, drawn as glyphs: its label column has
    # text where a chart without provinces (autumn: no calls) has none, the picture is not
    # the English one, and each province name draws a different shape in the charts' fonts.
    assert chinese["provinces"].rows != english["provinces"].rows
    names = [provinces.name(code, "zh-hans") for code in ("BJ", "SH", "GD")]
    expect(page.locator("#provinces-table")).to_contain_text(names[0])
    _glyphs_distinct(page, names)
    labelled = _label_ink(chinese["provinces"])

    page.goto(live_server.url + "/dashboards/autumn/")
    expect(page.locator("h1")).to_have_text("Autumn calls")
    expect(page.locator("#today-calls")).to_have_text("0")
    expect(page.locator("#provinces-table")).to_contain_text(_in("zh-hans", "No calls yet."))
    _charts_loaded(page)
    empty = page.locator("img.chart[src*='/charts/provinces.svg']")
    blank_labels = _label_ink(_decode(empty.screenshot(path=shots / "dashboard-zh-empty.png")))
    assert labelled > 150 and blank_labels < 10, (
        f"text by the bars: {labelled} pixels in the Chinese province chart, "
        f"{blank_labels} in the empty one"
    )

    page.goto(live_server.url + "/dashboards/spring/")
    _shoot(page, shots, "dashboard-zh")
    _no_problems(problems)


def test_the_dashboard_refreshes_itself_with_htmx_and_keeps_what_was_opened(
    page: Page, live_server, coordinator, caller, campaign, history, shots, problems, monkeypatch
):
    monkeypatch.setattr(dashboard_views, "REFRESH_SECONDS", 3)  # read at each request
    _sign_in(page, live_server, coordinator)
    page.goto(live_server.url + "/dashboards/spring/")
    expect(page.locator("#dashboard")).to_have_attribute("hx-trigger", "every 3s")
    expect(page.locator("#today-calls")).to_have_text("4")
    _charts_loaded(page)
    page.evaluate("window.notReloaded = true")

    # Someone at the keyboard opens the table of calls per day; it stays open, and the focus
    # stays on it, across refreshes.
    _tab_to(page, "#days-figures-summary")
    page.keyboard.press("Enter")
    expect(page.locator("#days-table")).to_be_visible()

    # Another call comes in; a refresh shows it, without reloading the page.
    claimed = calling.target_claim(campaign=campaign, caller=caller)
    assert claimed is not None
    calling.outcome_record(target=claimed.target, caller=caller, outcome=Outcome.LISTENED)
    with page.expect_response(
        lambda r: (
            r.url.startswith(live_server.url + "/dashboards/spring/")
            and r.request.headers.get("hx-request") == "true"
        )
    ) as refreshed:
        pass
    assert refreshed.value.status == 200
    expect(page.locator("#today-calls")).to_have_text("5")
    expect(page.locator("#days-table tbody tr").first.locator("td").nth(1)).to_have_text("5")
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("#days-figures")).to_have_attribute("open", "")
    expect(page.locator("#days-table")).to_be_visible()
    expect(page.locator("#provinces-figures")).not_to_have_attribute("open", "")
    expect(page.locator("#days-figures-summary")).to_be_focused()

    # Back to the ordinary interval: the next fragment says so.
    monkeypatch.setattr(dashboard_views, "REFRESH_SECONDS", 30)
    expect(page.locator("#dashboard")).to_have_attribute("hx-trigger", "every 30s")
    _all_charts_drawn(page, shots, "dashboard-refreshed")
    _no_problems(problems)


def test_the_objections_page_shows_what_came_up_and_how_calls_ended(
    page: Page, live_server, coordinator, history, shots, problems
):
    _sign_in(page, live_server, coordinator)
    page.goto(live_server.url + "/dashboards/spring/")
    page.locator("nav.tabs").get_by_role("link", name="Objections").click()
    expect(page).to_have_url(live_server.url + "/dashboards/spring/objections/")
    expect(page.locator("#h-freq")).to_have_text("How often each objection came up")
    expect(page.locator("#h-weeks")).to_have_text("Week by week")

    # Belief: ticked on 4 of the 7 conversations, 2 ended declared and 2 refused; busy: 2,
    # one listened, one refused; the third never came up. The baseline: all 7 conversations.
    rows = {row[0]: row for row in _rows(page.locator("#objections-table"))}
    assert rows[OBJECTIONS["belief"]] == [
        OBJECTIONS["belief"],
        "4",
        "57%",
        "50%",
        "0%",
        "0%",
        "50%",
        "0%",
    ]
    assert rows[OBJECTIONS["busy"]] == [
        OBJECTIONS["busy"],
        "2",
        "29%",
        "0%",
        "50%",
        "0%",
        "50%",
        "0%",
    ]
    assert rows[OBJECTIONS["stranger"]] == [
        OBJECTIONS["stranger"],
        "0",
        "0%",
        "—",
        "—",
        "—",
        "—",
        "—",
    ]
    baseline = page.locator("#objections-table tr.baseline td")
    expect(baseline).to_have_text(
        ["All conversations (for comparison)", "7", "100%", "29%", "29%", "0%", "29%", "14%"]
    )
    drawn = _all_charts_drawn(page, shots, "objections-en")
    assert set(drawn) == {"objections", "weeks"}

    _tab_to(page, "section[aria-labelledby=h-weeks] details.figures > summary")
    page.keyboard.press("Enter")
    weeks = {row[0]: row[1:] for row in _rows(page.locator("#weeks-table"))}
    assert sum(int(n) for n in weeks[OBJECTIONS["belief"]]) == 4

    _switch_language(page, "zh-hans")
    expect(page.locator("#h-freq")).to_have_text(_in("zh-hans", "How often each objection came up"))
    expect(page.locator("#objections-table tr.baseline td").first).to_have_text(
        _in("zh-hans", "All conversations (for comparison)")
    )
    _all_charts_drawn(page, shots, "objections-zh")
    _no_problems(problems)


def test_an_admin_opens_the_overview_in_chinese(browser, live_server, admin, history, shots):
    # A browser that asks for Chinese (Accept-Language), in China.
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=LAPTOP)
    page = context.new_page()
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(f"pageerror: {e}"))
    page.set_default_timeout(WAIT_MS)

    _sign_in(page, live_server, admin, "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.locator(".mainnav").get_by_role("link", name=_in("zh-hans", "Dashboards")).click()
    expect(page).to_have_url(live_server.url + "/dashboards/")
    expect(page.locator("h1")).to_have_text(_in("zh-hans", "All campaigns"))
    expect(page.locator("#h-total")).to_have_text(_in("zh-hans", "Across every campaign"))
    rows = {row[0]: row for row in _rows(page.locator("#campaigns-table"))}
    assert rows["Spring calls"][1:6] == ["4", "1", "10", "70%", "2"]
    assert rows["Autumn calls"][1:6] == ["0", "0", "0", "—", "0"]
    drawn = _all_charts_drawn(page, shots, "overview-zh")
    assert set(drawn) == {"days", "cumulative"}
    page.screenshot(path=shots / "overview-zh-laptop.png", full_page=True)
    context.close()
    _no_problems(found)
