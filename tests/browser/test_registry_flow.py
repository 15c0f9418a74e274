"""The public registry in a real browser, as the public meets it: the figures and charts in
Chinese and in English, the search and the language switcher; a declaration made on the
self-service form, its proof of work solved by the browser; a receipt checked, the browser
verifying the inclusion proof itself (and catching a tampered one); a withdrawal.

Nobody signs in here. Every page runs under the site's strict CSP, every request any page
makes is recorded, and each test ends by checking that none went anywhere but the live
server and that no page logged an error.

The test seals batches itself (``services.registry_publish()``), as the worker would on the
hour. The live server's request threads and the test share the module's SQLite file
database (tests/browser/conftest.py): what the test commits, the server reads.

Set PHONEBANK_SCREENSHOTS=/some/dir to keep the chart screenshots (else they go to tmp_path).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import translation
from playwright.sync_api import BrowserContext, Page, Route, expect

from phonebank.registry import services
from phonebank.registry.models import Declaration, DeclarationStatus, Source, Withdrawal

pytestmark = pytest.mark.browser

WAIT_MS = 20_000
RECEIPT = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$")
ORGS = {"party", "league", "pioneers"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")
BAD_REQUEST = "Failed to load resource: the server responded with a status of 400 (Bad Request)"

expect.set_options(timeout=WAIT_MS)


# -- helpers ------------------------------------------------------------------------------


def _in(language: str, text: str) -> str:
    """A message as the site shows it in a language: the catalogs give the words, and in
    Chinese they must be Chinese (an untranslated message would show in English)."""
    with translation.override(language):
        shown = translation.gettext(text)
    if language.startswith("zh"):
        assert CHINESE.search(shown), f"no {language} translation of {text!r}"
    return shown


def _zh(text: str) -> str:
    return _in("zh-hans", text)


def _declare(alias, orgs=("party",), province="", days_ago=0) -> tuple[Declaration, str]:
    """A declaration as a caller records it on a call; ``days_ago`` back-dates it before it
    is sealed, so the published figures span several days."""
    declaration, code = services.declaration_record(
        alias=alias,
        organisations=list(orgs),
        allowed=ORGS,
        source=Source.PHONE,
        consent=True,
        province=province,
    )
    if days_ago:
        declaration.declared_on -= timedelta(days=days_ago)
        declaration.save(update_fields=["declared_on"])
    return declaration, code


@pytest.fixture
def registry(transactional_db):
    """Three declarations over three days, sealed; then one more, not sealed yet.

    Active per organisation: party 3, league 2, pioneers 1; per province: GD 2, BJ 1.
    """
    made = {
        "春风": _declare("春风", ("party", "league"), "GD", days_ago=2),
        "明月": _declare("明月", ("party",), "BJ", days_ago=1),
        "晨光": _declare("晨光", ("party", "league", "pioneers"), "GD"),
    }
    sealed = services.registry_publish()
    assert sealed is not None and sealed.size == 3
    made["明天还没封存"] = _declare("明天还没封存", ("league",), "SH")
    return {alias: code for alias, (_d, code) in made.items()}


@dataclass
class Browsing:
    """Opens pages in fresh browser contexts, one per language, and records every request
    they make and every console error and uncaught exception they report."""

    new_context: Callable[..., BrowserContext]
    server: str  # scheme://host:port of the live server
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, url)
    accept_language: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def open(self, locale: str) -> Page:
        context = self.new_context(locale=locale)
        context.on("request", self._request)
        page = context.new_page()
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        page.set_default_timeout(WAIT_MS)
        return page

    def _request(self, request) -> None:
        self.requests.append((request.method, request.url))
        if request.resource_type == "document":
            self.accept_language.append(request.headers.get("accept-language", ""))

    def assert_clean(self, *expected_paths: str) -> None:
        """No request left the machine, the expected ones were seen, nothing went wrong."""
        assert self.requests, "no request was recorded"
        elsewhere = [
            (method, url)
            for method, url in self.requests
            if urlsplit(url).scheme != "data"  # the inline favicon: no network
            and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != self.server
        ]
        assert not elsewhere, f"requests to somewhere other than {self.server}: {elsewhere}"
        paths = {urlsplit(url).path for _m, url in self.requests}
        missing = [p for p in expected_paths if p not in paths]
        assert not missing, f"never requested {missing}; requested {sorted(paths)}"
        csp = [p for p in self.problems if "Content Security Policy" in p]
        assert not csp, csp
        assert not self.problems, self.problems


@pytest.fixture
def browsing(new_context, live_server) -> Browsing:
    parts = urlsplit(live_server.url)
    return Browsing(new_context=new_context, server=f"{parts.scheme}://{parts.netloc}")


@pytest.fixture
def shots(tmp_path) -> Path:
    where = os.environ.get("PHONEBANK_SCREENSHOTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def _png_pixels(png: bytes) -> Counter[tuple[int, ...]]:
    """Colour → number of pixels, decoded from PNG bytes by hand (8-bit RGB or RGBA,
    not interlaced: what Chromium's screenshots are)."""
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
    pixels: Counter[tuple[int, ...]] = Counter()
    above = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = above[i]
            if method == 1:
                line[i] = (line[i] + left) & 0xFF
            elif method == 2:
                line[i] = (line[i] + up) & 0xFF
            elif method == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif method == 4:
                corner = above[i - channels] if i >= channels else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        pixels.update(zip(*(line[c::channels] for c in range(3)), strict=True))
        above = line
    return pixels


def _chart_drawn(page: Page, selector: str, shots: Path, name: str) -> Counter:
    """The chart <img> loaded (a decoded image, not a broken one) and, on screen, is a
    drawing: many colours, and the bars' red among them."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete; }", arg=selector
    )
    natural = page.locator(selector).evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural[0] > 0 and natural[1] > 0, f"{selector} did not load: {natural}"
    png = page.locator(selector).screenshot(path=shots / f"{name}.png")
    pixels = _png_pixels(png)
    total = sum(pixels.values())
    background_share = pixels.most_common(1)[0][1] / total
    reddish = sum(n for (r, g, b), n in pixels.items() if r - max(g, b) > 60)
    assert len(pixels) >= 20, f"{name}: only {len(pixels)} colours, a blank chart?"
    assert background_share < 0.98, f"{name}: {background_share:.1%} of it is one colour"
    assert reddish > 50, f"{name}: no bars drawn ({reddish} red pixels)"
    return pixels


def _chart_opened(page: Page, url: str, shots: Path, name: str) -> None:
    """A chart opened on its own, as a document: there the browser applies the SVG's own
    Content-Security-Policy (an <img> ignores it), so its styles must pass that policy
    (a blocked style block leaves black, unstyled bars)."""
    # A document of its own asks for /favicon.ico, which the site does not serve.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page.goto(url)
    pixels = _png_pixels(page.screenshot(path=shots / f"{name}.png"))
    reddish = sum(n for (r, g, b), n in pixels.items() if r - max(g, b) > 60)
    assert reddish > 50, f"{name}: the bars are not styled ({reddish} red pixels)"


def _expect_rows(page: Page, table: str, rows: list[list[str]]) -> None:
    """A table's body, cell by cell."""
    found = page.locator(f"{table} tbody tr")
    expect(found).to_have_count(len(rows))
    for i, row in enumerate(rows):
        expect(found.nth(i).locator("td")).to_have_text(row)


def _org_totals(page: Page) -> dict[str, int]:
    """The per-organisation totals on /registry/, name → count (in whatever order)."""
    rows = page.locator(".org-totals li")
    expect(rows.first).to_be_visible()
    pairs = rows.evaluate_all(
        "lis => lis.map(li => [li.querySelector('span').textContent.trim(),"
        " li.querySelector('strong').textContent.trim()])"
    )
    totals = {name: int(n.replace(",", "")) for name, n in pairs}
    assert len(totals) == len(pairs), f"an organisation listed twice: {pairs}"
    return totals


def _submit(page: Page) -> None:
    """The page's own form (not the header's language form)."""
    page.locator("#main form button[type=submit]").click()


def _check(page: Page, server: str, code: str) -> None:
    page.goto(server + "/registry/check/")
    page.locator("#id_code").fill(code)
    _submit(page)
    expect(page.locator("#entry")).to_be_visible()


def _browser_result(page: Page) -> str:
    out = page.locator("#browser-verified")
    expect(out).to_have_attribute("data-result", re.compile(r"^(ok|ok-nosig|bad)$"))
    return out.get_attribute("data-result")


# -- 1. the public pages ----------------------------------------------------------------


def test_the_public_pages_in_chinese_with_charts_search_and_the_language_switcher(
    browsing: Browsing, live_server, registry, shots
):
    page = browsing.open("zh-CN")
    page.goto(live_server.url + "/registry/")
    assert browsing.accept_language[0].startswith("zh-CN"), browsing.accept_language
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text(_zh("Registry of declarations"))
    expect(page.locator("#totals-title")).to_have_text(_zh("Totals"))
    expect(page.locator("#days-title")).to_have_text(_zh("Declarations per day and cumulative"))
    expect(page.locator("#latest-title")).to_have_text(_zh("Latest declarations"))
    expect(page.locator("#total-active")).to_have_text("3")
    assert _org_totals(page) == {"中国共产党": 3, "共青团": 2, "少先队": 1}
    latest = page.locator("#latest")
    expect(latest.locator(".alias")).to_have_count(3)
    for alias in ("春风", "明月", "晨光"):
        expect(latest).to_contain_text(alias)
    expect(latest).not_to_contain_text("明天还没封存")  # not sealed yet
    expect(latest.locator(".entry").filter(has_text="春风")).to_contain_text("共青团 · 中国共产党")
    expect(latest.locator(".entry").filter(has_text="春风")).to_contain_text("广东")
    # The table behind the chart: three days, one declaration each, cumulative 1, 2, 3.
    today = Declaration.objects.get(alias="晨光").declared_on
    _expect_rows(
        page,
        "table.data",
        [[(today - timedelta(days=ago)).isoformat(), "1", str(3 - ago)] for ago in (2, 1, 0)],
    )
    _chart_drawn(page, "img.chart", shots, "registry-days-zh")

    # By province: the chart and its table, largest first.
    page.goto(live_server.url + "/registry/provinces/")
    expect(page.locator("h1")).to_have_text(_zh("Declarations by province"))
    _expect_rows(page, "#province-table", [["广东", "2"], ["北京", "1"]])
    _chart_drawn(page, "img.chart", shots, "registry-provinces-zh")

    # Search by alias: the sealed 明月 is found; 明天还没封存 waits for its batch.
    page.goto(live_server.url + "/registry/declarations/")
    page.locator("#q").fill("明")
    page.locator("#q").press("Enter")
    expect(page).to_have_url(re.compile(r"/registry/declarations/\?q=%E6%98%8E$"))
    expect(page.locator("#results .alias")).to_have_text(["明月"])
    page.locator("#q").fill("明天还没封存")
    page.locator("#q").press("Enter")
    expect(page.locator("#no-results")).to_be_visible()
    expect(page.locator("#results")).to_have_count(0)

    # The header's language switcher: Traditional Chinese, on the same registry page.
    page.locator("#language").select_option(label="繁體中文")
    page.locator(".langswitch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    expect(page).to_have_url(re.compile(r"/registry/declarations/"))
    expect(page.locator("#language")).to_have_value("zh-hant")
    page.goto(live_server.url + "/registry/")  # the choice sticks (a cookie)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")
    assert _org_totals(page) == {"中國共產黨": 3, "共青團": 2, "少先隊": 1}
    expect(page.locator("h1")).to_have_text(_in("zh-hant", "Registry of declarations"))

    browsing.assert_clean(
        "/registry/chart/days.svg", "/registry/chart/provinces.svg", "/i18n/setlang/"
    )


def test_the_public_pages_in_english(browsing: Browsing, live_server, registry, shots):
    page = browsing.open("en-GB")
    page.goto(live_server.url + "/registry/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Registry of declarations")
    expect(page.locator("#total-active")).to_have_text("3")
    assert _org_totals(page) == {
        "Chinese Communist Party": 3,
        "Communist Youth League": 2,
        "Young Pioneers": 1,
    }
    expect(page.locator("#latest .entry").filter(has_text="明月")).to_contain_text(
        "Chinese Communist Party"
    )
    expect(page.locator("#latest .entry").filter(has_text="明月")).to_contain_text("Beijing")
    expect(page.locator("#latest")).not_to_contain_text("明天还没封存")
    _chart_drawn(page, "img.chart", shots, "registry-days-en")

    page.locator(".mainnav a", has_text="Provinces").click()
    expect(page.locator("h1")).to_have_text("Declarations by province")
    _expect_rows(page, "#province-table", [["Guangdong", "2"], ["Beijing", "1"]])
    _chart_drawn(page, "img.chart", shots, "registry-provinces-en")

    for name in ("days", "provinces"):
        _chart_opened(page, f"{live_server.url}/registry/chart/{name}.svg", shots, name)
    browsing.assert_clean("/registry/chart/days.svg", "/registry/chart/provinces.svg")


# -- 2. the self-service declaration --------------------------------------------------------


def test_a_declaration_on_the_public_form_in_chinese(
    browsing: Browsing, live_server, transactional_db
):
    page = browsing.open("zh-CN")
    page.goto(live_server.url + "/registry/declare/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    form = page.locator("#declare-form")

    # First without the consent box: the form comes back with the message, as it was typed.
    page.locator("#id_alias").fill("自由的风")
    page.locator('input[name="organisations"][value="league"]').check()
    page.locator("#id_province").select_option("GD")
    expect(page.locator("#id_province option:checked")).to_have_text("广东")
    expect(form).to_have_attribute("data-solved", "1")  # the browser solved the challenge
    expect(page.locator("#pow-status")).to_have_text(_zh("Anti-spam check done."))
    _submit(page)
    consent_error = _zh("A declaration needs your explicit agreement: tick the box.")
    expect(page.locator(".field.has-error .error")).to_have_text([consent_error])
    expect(page.locator("#id_alias")).to_have_value("自由的风")
    expect(page.locator('input[name="organisations"][value="league"]')).to_be_checked()
    expect(page.locator("#id_province")).to_have_value("GD")
    expect(page.locator("#id_consent")).not_to_be_checked()
    assert not Declaration.objects.exists()

    # With it: a new challenge, solved again, and the receipt.
    page.locator("#id_consent").check()
    expect(form).to_have_attribute("data-solved", "1")
    assert page.locator("#altcha").input_value(), "the solution was not put in the form"
    _submit(page)
    expect(page.locator("h1")).to_have_text(_zh("Your declaration is recorded"))
    receipt = page.locator("#receipt-code")
    expect(receipt).to_have_text(RECEIPT)
    code = receipt.inner_text()

    declaration = Declaration.objects.get()
    assert (declaration.alias, declaration.source, declaration.province) == (
        "自由的风",
        "web",
        "GD",
    )
    assert list(declaration.organisations.values_list("code", flat=True)) == ["league"]
    assert declaration.receipt_hash == services.receipt_hash(code)
    assert declaration.log_index is None  # waits for the next batch
    assert code.replace("-", "") not in json.dumps(
        list(Declaration.objects.values()), default=str
    )  # the code itself is not stored

    # Two page loads, two challenges solved in the browser, two posts; the second one used.
    posts = [url for method, url in browsing.requests if method == "POST"]
    assert [urlsplit(u).path for u in posts] == ["/registry/declare/"] * 2, posts
    # The re-rendered form answers 400, and Chromium logs that as a failed load: expected.
    assert browsing.problems.count(BAD_REQUEST) == 1, browsing.problems
    browsing.problems.remove(BAD_REQUEST)
    browsing.assert_clean("/static/phonebank/registry.js")


# -- 3. the receipt check ---------------------------------------------------------------


def _tamper(change):
    """A route handler that passes the check page's answer through ``change`` (on its
    data-proof JSON) before the browser sees it."""

    def handler(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch()
        body = response.text()
        found = re.search(r'data-proof="([^"]*)"', body)
        assert found, "the check page has no data-proof"
        proof = change(json.loads(html.unescape(found[1])))
        tampered = html.escape(json.dumps(proof), quote=True)
        route.fulfill(response=response, body=body.replace(found[1], tampered))

    return handler


def _flip_first_proof_hash(proof: dict) -> dict:
    first = bytearray(base64.b64decode(proof["proof"][0]))
    first[0] ^= 0x01
    return {**proof, "proof": [base64.b64encode(first).decode(), *proof["proof"][1:]]}


def _flip_signature(proof: dict) -> dict:
    text, _blank, signatures = proof["checkpoint"].partition("\n\n")
    name, _space, sig = signatures.strip("\n").rpartition(" ")
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 0x01  # the signature's last byte, not the key ID before it
    note = f"{text}\n\n{name} {base64.b64encode(raw).decode()}\n"
    return {**proof, "checkpoint": note}


def test_a_receipt_checked_in_english_and_in_chinese_and_verified_by_the_browser(
    browsing: Browsing, live_server, registry
):
    code = registry["明月"]
    index = Declaration.objects.get(alias="明月").log_index
    server_ok = {
        language: _in(
            language,
            "Entry %(index)s is in the signed log of %(size)s entries: the server checked "
            "the signature and the inclusion proof.",
        )
        % {"index": index, "size": 3}
        for language in ("en", "zh-hans")
    }

    # English: the entry, the server's ✓ and the browser's own verification.
    page = browsing.open("en-US")
    _check(page, live_server.url, code.lower().replace("-", " "))  # as read over the phone
    expect(page.locator("#entry-alias")).to_have_text("明月")
    expect(page.locator("#entry-status")).to_have_text("Published")
    expect(page.locator("#server-verified")).to_have_text(f"✓ {server_ok['en']}")
    result = _browser_result(page)
    ed25519 = {"ok": "checked", "ok-nosig": "not supported"}.get(result, "?")
    print(f"Chromium's WebCrypto Ed25519: {ed25519} (#browser-verified data-result={result})")
    assert result in ("ok", "ok-nosig"), f"the browser refused a good proof: {result}"
    out = page.locator("#browser-verified")
    signature = (
        "Your browser also checked the checkpoint signature."
        if result == "ok"
        else ("This browser cannot check Ed25519 signatures; the proof itself was checked.")
    )
    expect(out).to_have_text(
        f"✓ Your browser checked it too: the proof leads to the signed root. {signature}"
    )

    # Chinese, the same receipt.
    page = browsing.open("zh-CN")
    _check(page, live_server.url, code)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#entry-alias")).to_have_text("明月")
    expect(page.locator("#entry-status")).to_have_text(_zh("Published"))
    expect(page.locator("#server-verified")).to_have_text(f"✓ {server_ok['zh-hans']}")
    assert _browser_result(page) == result, f"Ed25519 in WebCrypto: {ed25519}"
    expect(page.locator("#browser-verified")).to_contain_text(
        _zh("Your browser checked it too: the proof leads to the signed root.")
    )

    # Tampered on the way: one hash of the proof changed. The server's line (text it sent)
    # still says ✓; the browser's own check does not.
    page = browsing.open("en-US")
    page.route("**/registry/check/", _tamper(_flip_first_proof_hash))
    _check(page, live_server.url, code)
    expect(page.locator("#server-verified")).to_have_text(f"✓ {server_ok['en']}")
    assert _browser_result(page) == "bad", "a tampered proof passed the browser's check"
    expect(page.locator("#browser-verified")).to_have_text(
        "✗ Your browser could NOT verify this proof."
    )

    # Tampered signature, proof intact: caught where the browser can check Ed25519.
    page = browsing.open("en-US")
    page.route("**/registry/check/", _tamper(_flip_signature))
    _check(page, live_server.url, code)
    expected = "bad" if result == "ok" else "ok-nosig"
    forged = _browser_result(page)
    assert forged == expected, (
        f"a forged checkpoint signature, Ed25519 in WebCrypto {ed25519}: "
        f"expected {expected}, got {forged}"
    )

    browsing.assert_clean("/registry/check/", "/static/phonebank/registry.js")


# -- 4. a withdrawal ----------------------------------------------------------------------


def test_a_withdrawal_in_chinese_counts_once_it_is_sealed(
    browsing: Browsing, live_server, registry
):
    code = registry["晨光"]  # party, league and pioneers, in Guangdong
    assert services.registry_publish().size == 4  # 明天还没封存 too: 4 active
    page = browsing.open("zh-CN")
    page.goto(live_server.url + "/registry/")
    expect(page.locator("#total-active")).to_have_text("4")
    assert _org_totals(page) == {"中国共产党": 3, "共青团": 3, "少先队": 1}

    page.locator(".mainnav a", has_text=_zh("Check my declaration")).click()
    page.locator("#id_code").fill(code)
    _submit(page)
    page.locator("#entry a", has_text=_zh("Withdraw this declaration")).click()
    expect(page).to_have_url(live_server.url + "/registry/withdraw/")

    # Without the confirm box the browser itself refuses to send the form (it is required).
    page.locator("#id_code").fill(code)
    _submit(page)
    assert page.locator("#id_confirm").evaluate("box => box.validity.valueMissing")
    expect(page.locator("#withdrawn")).to_have_count(0)
    assert not Withdrawal.objects.exists()

    page.locator("#id_code").fill(code)
    page.locator("#id_confirm").check()
    _submit(page)
    minutes = {"minutes": settings.PHONEBANK_LOG_BATCH_SECONDS // 60}
    expect(page.locator("#withdrawn")).to_have_text(
        _zh(
            "Your declaration is withdrawn. The withdrawal is published with the next batch, "
            "within %(minutes)s minutes; from then on your declaration is no longer counted."
        )
        % minutes
    )
    declaration = Declaration.objects.get(alias="晨光")
    assert declaration.status == DeclarationStatus.WITHDRAWN
    assert declaration.withdrawal.log_index is None

    # Asked, not sealed: the check page says so, and the figures have not moved.
    _check(page, live_server.url, code)
    expect(page.locator("#entry-status")).to_have_text(
        f"{_zh('Withdrawn')} ({_zh('the withdrawal will be published with the next batch')})"
    )
    page.goto(live_server.url + "/registry/")
    expect(page.locator("#total-active")).to_have_text("4")

    # Sealed: the declaration stays in the log, marked withdrawn; it no longer counts.
    sealed = services.registry_publish()
    assert sealed is not None and (sealed.added, sealed.size) == (1, 5)  # the withdrawal
    _check(page, live_server.url, code)
    expect(page.locator("#entry-status")).to_have_text(_zh("Withdrawn"))
    expect(page.locator("#entry a", has_text=_zh("Withdraw this declaration"))).to_have_count(0)
    expect(page.locator("#server-verified")).to_contain_text("✓")
    page.goto(live_server.url + "/registry/")
    expect(page.locator("#total-active")).to_have_text("3")
    assert _org_totals(page) == {"中国共产党": 2, "共青团": 2, "少先队": 0}
    expect(page.locator("#latest .entry").filter(has_text="晨光")).to_contain_text(_zh("withdrawn"))
    expect(page.locator("#latest .entry").filter(has_text="春风")).not_to_contain_text(
        _zh("withdrawn")
    )

    posts = [urlsplit(url).path for method, url in browsing.requests if method == "POST"]
    assert posts == [
        "/registry/check/",
        "/registry/withdraw/",  # once: the form without the confirm box was never sent
        "/registry/check/",
        "/registry/check/",
    ], posts
    browsing.assert_clean("/registry/withdraw/")
