"""Security headers on every kind of response the site gives: pages public and signed in,
htmx fragments, JSON answers, error pages, SVG charts, the log's text and JSON, static
files; and HSTS on all of them in production mode behind the TLS proxy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import include, path

from phonebank.accounts import policy
from phonebank.accounts.services import token_create
from phonebank.calling.models import Target
from phonebank.contacts.models import Contact
from phonebank.lib import svgcsp
from phonebank.lib.fields import keyring
from phonebank.registry import services as registry
from phonebank.registry.models import Source
from tests.urlwalk import path_for, patterns, world_make

HX = {"HTTP_HX_REQUEST": "true"}


def _boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _boom, name="boom"), path("", include("phonebank.urls"))]


@pytest.fixture
def site(campaign, caller, other_campaign, monkeypatch):
    """A campaign with a contact to call, a sealed registry entry, a failing view."""
    e164 = "+8613912345678"
    contact = Contact.objects.create(
        blind_index=keyring().blind_index(e164), phone=e164, name="张三", timezone="Asia/Shanghai"
    )
    Target.objects.create(campaign=campaign, contact=contact)
    registry.declaration_record(
        alias="自由",
        organisations=["party"],
        allowed={"party"},
        source=Source.PHONE,
        consent=True,
        province="GD",
    )
    registry.registry_publish()
    monkeypatch.setitem(policy.POLICY, "boom", policy.PUBLIC)
    cache.clear()
    return {"token": token_create(user=caller, actor=None)[1]}


def _responses(client: Client, caller, token: str, **extra) -> dict[str, tuple[object, bool]]:
    """Every kind of response, by name: (response, whether it went to a signed-in person)."""
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}", **extra}
    out = {}

    def get(name, url, signed_in=False, **kw):
        response = client.get(url, **{**extra, **kw})
        if response.streaming:  # read to the end: the client then closes the open file
            b"".join(response.streaming_content)
        out[name] = (response, signed_in)

    client.logout()
    get("public page", "/registry/")
    get("sign-in page", "/accounts/login/")
    get("404 page", "/no-such-page/")
    get("500 page", "/boom/")
    get("svg chart", "/registry/chart/days.svg")
    get("svg chart by province", "/registry/chart/provinces.svg")
    get("log checkpoint (text)", "/log/checkpoint")
    get("log key (text)", "/log/key")
    get("log leaves (json)", "/log/leaves?start=0&end=1")
    get("log proof (json 4xx)", "/log/proof/inclusion?index=9&size=1")
    get("log tile (binary)", "/log/tile/0/000.p/1")
    get("registry figures (json)", "/registry/stats.json")
    get("static css", "/static/phonebank/app.css")
    get("static js", "/static/phonebank/workspace.js")
    out["json 401"] = (client.post("/api/campaigns/spring/claim", **extra), False)
    csrf = Client(enforce_csrf_checks=True)
    out["csrf 403"] = (csrf.post("/accounts/login/", {"username": "x"}, **extra), False)

    client.force_login(caller)
    get("signed-in page", "/call/spring/", signed_in=True)
    get("signed-in profile", "/accounts/profile/", signed_in=True)
    out["htmx fragment"] = (client.post("/call/spring/next", **HX, **extra), True)
    get("403 page", "/campaigns/spring/people/", signed_in=True)
    get("404 page, signed in", "/call/autumn/", signed_in=True)
    get("500 page, signed in", "/boom/", signed_in=True)
    client.logout()
    get("json 2xx", "/api/campaigns/spring/stats", signed_in=True, **bearer)
    out["json claim 2xx"] = (client.post("/api/campaigns/spring/claim", **bearer), True)
    get("json 404", "/api/campaigns/autumn/stats", signed_in=True, **bearer)
    get("json 422", "/api/campaigns/spring/contacts?limit=x", signed_in=True, **bearer)
    return out


def _directives(csp: str) -> dict[str, list[str]]:
    parsed = {}
    for part in csp.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def _check(name: str, response, signed_in: bool) -> list[str]:
    """What is wrong with one response's headers."""
    problems = []
    csp = response.get("Content-Security-Policy")
    if not csp:
        problems.append("no Content-Security-Policy")
    else:
        directives = _directives(csp)
        for directive in ("script-src", "style-src"):
            effective = directives.get(directive, directives.get("default-src"))
            if effective is None:
                problems.append(f"CSP without {directive} or default-src")
            elif "'unsafe-inline'" in effective or "'unsafe-eval'" in effective:
                problems.append(f"{directive} {effective}")
        if directives.get("frame-ancestors") != ["'none'"]:
            problems.append(f"frame-ancestors {directives.get('frame-ancestors')}")
        if directives.get("object-src", directives.get("default-src")) != ["'none'"]:
            problems.append("object-src is not 'none'")
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options {response.get('X-Content-Type-Options')}")
    if response.get("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options {response.get('X-Frame-Options')}")
    if response.get("Referrer-Policy") != "same-origin":
        problems.append(f"Referrer-Policy {response.get('Referrer-Policy')}")
    if signed_in and "no-store" not in response.get("Cache-Control", ""):
        problems.append(f"Cache-Control {response.get('Cache-Control')} for a signed-in person")
    return [f"{name} ({response.status_code}): {p}" for p in problems]


def _static_files():
    """WhiteNoise serving from the source folders (tests do not run collectstatic)."""
    return override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=False)


@override_settings(ROOT_URLCONF=__name__)
def test_every_kind_of_response_carries_the_security_headers(site, caller):
    with _static_files(), time_machine.travel("2026-11-25T02:00:00Z", tick=False):
        client = Client(raise_request_exception=False)
        responses = _responses(client, caller, site["token"])
    statuses = {name: r.status_code for name, (r, _s) in responses.items()}
    assert statuses == {
        "public page": 200,
        "sign-in page": 200,
        "404 page": 404,
        "500 page": 500,
        "svg chart": 200,
        "svg chart by province": 200,
        "log checkpoint (text)": 200,
        "log key (text)": 200,
        "log leaves (json)": 200,
        "log proof (json 4xx)": 400,
        "log tile (binary)": 200,
        "registry figures (json)": 200,
        "static css": 200,
        "static js": 200,
        "json 401": 401,
        "csrf 403": 403,
        "signed-in page": 200,
        "signed-in profile": 200,
        "htmx fragment": 200,
        "403 page": 403,
        "404 page, signed in": 404,
        "500 page, signed in": 500,
        "json 2xx": 200,
        "json claim 2xx": 200,
        "json 404": 404,
        "json 422": 422,
    }
    assert "<html" not in responses["htmx fragment"][0].content.decode()
    assert responses["json 2xx"][0]["Content-Type"] == "application/json; charset=utf-8"
    problems = [p for name, (r, s) in responses.items() for p in _check(name, r, s)]
    assert problems == []


def test_every_page_a_signed_in_person_reaches_is_not_stored(
    client, campaign, caller, coordinator, admin, other_campaign_coordinator
):
    """Cache-Control: no-store on every URL pattern answered to a signed-in person, except the
    public registry and log (the same for everyone); the headers on all of them."""
    world = world_make(
        campaign=campaign,
        coordinator=coordinator,
        caller=caller,
        admin=admin,
        other_campaign_coordinator=other_campaign_coordinator,
    )
    problems, checked = [], 0
    for who in (caller, admin):
        client.force_login(who)
        for route, name, _p in patterns():
            rule = policy.rule_for(name)
            if rule == policy.API:
                continue  # token requests: above
            response = client.get(path_for(route, world))
            public = rule == policy.PUBLIC and not name.startswith("accounts:")
            problems += _check(f"{who.username} {name}", response, signed_in=not public)
            checked += 1
    assert checked > 100
    assert problems == []


def test_the_svg_charts_policy_allows_exactly_their_style_block(client, db):
    response = client.get("/registry/chart/provinces.svg")
    svg = response.content.decode()
    directives = _directives(response["Content-Security-Policy"])
    assert directives["default-src"] == ["'none'"] and directives["script-src"] == ["'none'"]
    css = svg.split("<style", 1)[1].split(">", 1)[1].split("</style>", 1)[0]
    assert directives["style-src"] == [svgcsp.style_hash(css.replace("&gt;", ">"))]
    assert ' style="' not in svg and 'opacity="0"' in svg  # the tooltip's, as an attribute


def test_an_svg_with_a_style_the_policy_cannot_allow_is_refused():
    with pytest.raises(ValueError, match="cannot allow"):
        svgcsp.policy('<svg><g style="transform: scale(9)"/></svg>')


# -- production mode ---------------------------------------------------------------------


PRODUCTION = [
    "DEBUG",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "LANGUAGE_COOKIE_SECURE",
]


def _production_settings(tmp_path) -> dict:
    """The settings as production mode makes them (a fresh interpreter, the documented
    variables), for the ones HTTPS changes; the rest must be what the tests run with."""
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(tmp_path / "production"),
        "PHONEBANK_DEBUG": "0",
        "PHONEBANK_HTTPS": "1",
    }
    names = [*PRODUCTION, "MIDDLEWARE", "API_MIDDLEWARE", "CONTENT_SECURITY_POLICY"]
    script = (
        "import json\nfrom phonebank import settings as s\n"
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}))"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script  # nosec B603
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


@override_settings(ROOT_URLCONF=__name__)
def test_production_mode_sends_hsts_on_every_kind_of_response(site, caller, settings, tmp_path):
    production = _production_settings(tmp_path)
    for name in ("MIDDLEWARE", "API_MIDDLEWARE", "CONTENT_SECURITY_POLICY"):
        assert production.pop(name) == getattr(settings, name), name
    assert production["DEBUG"] is False and production["SECURE_HSTS_SECONDS"] >= 31536000
    production["SECURE_PROXY_SSL_HEADER"] = tuple(production["SECURE_PROXY_SSL_HEADER"])
    with (
        override_settings(**production),
        _static_files(),
        time_machine.travel("2026-11-25T02:00:00Z", tick=False),
    ):
        client = Client(raise_request_exception=False)
        plain = client.get("/registry/")
        assert plain.status_code == 301 and plain["Location"] == "https://testserver/registry/"
        responses = _responses(client, caller, site["token"], HTTP_X_FORWARDED_PROTO="https")
        signed_in = client.post(
            "/accounts/login/",
            {"username": "cal", "password": "correct horse battery staple"},
            HTTP_X_FORWARDED_PROTO="https",
        )
    problems = [p for name, (r, s) in responses.items() for p in _check(name, r, s)]
    assert problems == []
    for name, (response, _s) in responses.items():
        assert response.status_code != 301, name
        hsts = response.get("Strict-Transport-Security")
        assert hsts == "max-age=31536000; includeSubDomains; preload", f"{name}: {hsts}"
    cookie = signed_in.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
