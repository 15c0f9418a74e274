"""The receipt check in a real browser across a rotation of the log's signing key.

registry.js verifies the inclusion proof and the checkpoint's Ed25519 signature with the
key the check page gives it: the log's key in force (/log/key), which signs the latest
checkpoint: with the old key on the hand-over checkpoint, alone afterwards.
"""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, Route, expect

from phonebank.registry import services
from phonebank.registry.models import Source
from phonebank.tlog import keyfile, note
from phonebank.tlog import services as log_services

pytestmark = pytest.mark.browser

WAIT_MS = 20_000


@pytest.fixture
def key_file(settings) -> Path:
    path = Path(settings.PHONEBANK_HOME) / "log-signing.key"
    signer = note.generate_signer(log_services.log_signer().name)
    keyfile.write_private(path, signer.skey)
    settings.PHONEBANK_LOG_KEY = signer.skey
    settings.PHONEBANK_LOG_KEY_SOURCE = str(path)
    return path


def _declare(alias: str) -> str:
    _declaration, code = services.declaration_record(
        alias=alias, organisations=["party"], allowed={"party"}, source=Source.PHONE, consent=True
    )
    return code


def _checked(page: Page, server: str, code: str) -> str:
    page.goto(server + "/registry/check/")
    page.locator("#id_code").fill(code)
    page.locator("#main form button[type=submit]").click()
    out = page.locator("#browser-verified")
    expect(out).to_have_attribute(
        "data-result", re.compile(r"^(ok|ok-nosig|bad)$"), timeout=WAIT_MS
    )
    return out.get_attribute("data-result")


def _with_key(vkey: str):
    """Passes the check page through with another key in its data-proof."""

    def handler(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch()
        body = response.text()
        found = re.search(r'data-proof="([^"]*)"', body)
        assert found, "the check page has no data-proof"
        proof = {**json.loads(html.unescape(found[1])), "key": vkey}
        route.fulfill(
            response=response,
            body=body.replace(found[1], html.escape(json.dumps(proof), quote=True)),
        )

    return handler


def test_the_browser_verifies_receipts_before_during_and_after_a_rotation(
    new_context, live_server, transactional_db, settings, key_file
):
    problems: list[str] = []
    page = new_context(locale="en-US").new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    code = _declare("春风")
    _declare("明月")
    services.registry_publish()
    old = log_services.log_signer()
    before = _checked(page, live_server.url, code)
    assert before in ("ok", "ok-nosig"), before

    call_command("registry", "rotate-key", stdout=io.StringIO())
    new = log_services.log_signer()
    assert new.vkey != old.vkey
    # The hand-over checkpoint (signed by both keys) is the latest.
    assert _checked(page, live_server.url, code) == before
    expect(page.locator("#browser-verified")).to_contain_text("✓")

    _declare("晨光")
    services.registry_publish()  # signed by the new key only
    assert _checked(page, live_server.url, code) == before
    # A web server started before the rotation holds the old key in its settings: it gives
    # the browser the log's key in force all the same.
    settings.PHONEBANK_LOG_KEY = old.skey
    assert _checked(page, live_server.url, code) == before
    print(f"Chromium checked the signature: {before == 'ok'} (data-result={before})")
    assert live_server.url and page.request.get(live_server.url + "/log/key").text().strip() == (
        new.vkey
    )

    # Given the retired key instead, the browser finds no signature of it on the checkpoint.
    page.route("**/registry/check/", _with_key(old.vkey))
    assert _checked(page, live_server.url, code) == "bad"
    assert not problems, problems
