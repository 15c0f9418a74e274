"""The public registry's self-service pages fuzzed with hypothesis: any field values, any
body, any query give a re-rendered form (400) or a success (200), never a server error;
a success records exactly one declaration and shows its receipt; nothing sent comes back
unescaped (issue 6, item 7; docs/reliability.md).

The default suite runs few examples; the `slow` twins run many more. Requests go through
Django's test client with the full middleware stack; each example comes from an address of
its own, so the per-address limits do not turn every later example into a refusal.
"""

from __future__ import annotations

import ipaddress
import re

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from phonebank.lib import provinces
from phonebank.registry import pow, services
from phonebank.registry.models import Declaration, Withdrawal

FEW, MANY = 25, 400
MARK = "<b>x</b>"  # sent in fields: must never come back as markup


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


field_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["", " ", MARK, "自由人", "x" * 64, "x" * 65, "\x00", "a\x00b", "%00", "\u202e"]
    ),
)
addresses = st.integers(1, 2**32 - 2).map(lambda n: str(ipaddress.IPv4Address(n)))


@st.composite
def declare_posts(draw) -> dict:
    """Form data: a valid form (any alias; a proof of work really solved, of a challenge of
    the server's own made cheap to solve) with up to four of its fields made arbitrary or
    left out, and sometimes fields of no form."""
    data: dict = {
        "alias": draw(st.one_of(st.text(min_size=1, max_size=64), field_text)),
        "organisations": draw(
            st.lists(st.sampled_from(["party", "league", "pioneers"]), min_size=1, max_size=3)
        ),
        "province": draw(st.sampled_from(["", *sorted(provinces.BY_CODE)])),
        "consent": "on",
        "website": "",
        "altcha": "solved",
    }
    arbitrary = {
        "organisations": st.lists(
            st.one_of(st.sampled_from(["party", "league", "pioneers"]), field_text), max_size=4
        ),
        "province": field_text,
        "consent": st.one_of(st.sampled_from(["true", "1", "off", "false"]), field_text),
        "website": field_text,
        "altcha": st.one_of(st.just("bm90IGpzb24="), field_text),
    }
    for name in draw(st.lists(st.sampled_from(sorted(arbitrary)), max_size=4, unique=True)):
        if draw(st.booleans()):
            data[name] = draw(arbitrary[name])
        else:
            del data[name]
    for _ in range(draw(st.integers(0, 2))):
        data[draw(st.text(min_size=1, max_size=10))] = draw(field_text)
    if data.get("altcha") == "solved":
        data["altcha"] = pow.solve(pow.challenge_new(max_number=20))
    return data


def _page_ok(response) -> str:
    assert response.status_code in (200, 400), response.status_code
    body = response.content.decode()
    assert MARK not in body, "a field came back unescaped"
    return body


def _declare(client, data: dict, address: str) -> None:
    before = Declaration.objects.count()
    response = client.post(
        reverse("registry:declare"), data, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en"
    )
    body = _page_ok(response)
    after = Declaration.objects.count()
    if currently_in_test_context():  # --hypothesis-show-statistics: how many succeed
        event("declared" if response.status_code == 200 else "refused")
    if response.status_code == 200:
        assert after == before + 1
        code = re.search(r'id="receipt-code">([A-Z0-9-]+)<', body)[1]
        declaration = Declaration.objects.get(receipt_hash=services.receipt_hash(code))
        assert declaration.alias == " ".join(str(data["alias"]).split())
        assert declaration.source == "web" and declaration.log_index is None
    else:
        assert after == before, "a refused form recorded a declaration"
        assert "<form" in body


def _receipt_pages(client, code: str, confirm: str | None, address: str) -> None:
    _page_ok(client.post(reverse("registry:check"), {"code": code}, REMOTE_ADDR=address))
    before = Withdrawal.objects.count()
    data = {"code": code} if confirm is None else {"code": code, "confirm": confirm}
    response = client.post(reverse("registry:withdraw"), data, REMOTE_ADDR=address)
    _page_ok(response)
    assert Withdrawal.objects.count() == before + (response.status_code == 200)


def _raw_post(client, path: str, body: bytes, content_type: str, address: str) -> None:
    response = client.generic(
        "POST", reverse(path), body, content_type=content_type, REMOTE_ADDR=address
    )
    _page_ok(response)


def _public_get(client, path: str, query: dict) -> None:
    response = client.get(reverse(path), query)
    assert response.status_code < 500, response.status_code


codes = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789-", min_size=16, max_size=19),
    st.just(MARK),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain",
        "application/json",
        "application/x-www-form-urlencoded; charset=gb18030",
        "application/x-www-form-urlencoded; charset=no-such-charset",
    ]
)
queries = st.dictionaries(
    st.sampled_from(["q", "page", "lang", "x"]), st.text(max_size=30), max_size=3
)
public_pages = st.sampled_from(
    ["registry:index", "registry:declarations", "registry:provinces", "registry:stats"]
)


# -- the default suite: few examples ----------------------------------------------------------


@fuzz(FEW)
@given(data=declare_posts(), address=addresses)
def test_any_declare_form_is_re_rendered_or_succeeds_never_a_500(db, client, data, address):
    _declare(client, data, address)


@fuzz(FEW)
@given(code=codes, confirm=st.one_of(st.none(), field_text), address=addresses)
def test_any_receipt_code_on_check_and_withdraw_is_answered_never_a_500(
    db, client, code, confirm, address
):
    _receipt_pages(client, code, confirm, address)


@fuzz(FEW)
@given(
    path=st.sampled_from(["registry:declare", "registry:check", "registry:withdraw"]),
    body=st.binary(max_size=300),
    content_type=content_types,
    address=addresses,
)
def test_any_request_body_is_answered_never_a_500(db, client, path, body, content_type, address):
    _raw_post(client, path, body, content_type, address)


@fuzz(FEW)
@given(path=public_pages, query=queries)
def test_any_query_on_the_public_pages_is_answered_never_a_500(db, client, path, query):
    _public_get(client, path, query)


def test_a_real_declaration_and_its_withdrawal_pass_through_the_fuzzed_checks(db, client):
    """The checks above can see a success: one made on purpose, then withdrawn."""
    data = {
        "alias": f"  {MARK}  自由  ",
        "organisations": ["party", "league"],
        "province": "GD",
        "consent": "on",
        "website": "",
        "altcha": pow.solve(pow.challenge_new(max_number=20)),
    }
    _declare(client, data, "192.0.2.1")
    declaration = Declaration.objects.get()
    assert declaration.alias == f"{MARK} 自由"
    code = services.receipt_new()
    declaration.receipt_hash = services.receipt_hash(code)
    declaration.save(update_fields=["receipt_hash"])
    _receipt_pages(client, code, "on", "192.0.2.2")
    assert Withdrawal.objects.get().declaration == declaration


# -- the slow twins: many examples ------------------------------------------------------------


@pytest.mark.slow
@fuzz(MANY)
@given(data=declare_posts(), address=addresses)
def test_many_declare_forms(db, client, data, address):
    _declare(client, data, address)


@pytest.mark.slow
@fuzz(MANY)
@given(code=codes, confirm=st.one_of(st.none(), field_text), address=addresses)
def test_many_receipt_codes(db, client, code, confirm, address):
    _receipt_pages(client, code, confirm, address)


@pytest.mark.slow
@fuzz(MANY)
@given(
    path=st.sampled_from(["registry:declare", "registry:check", "registry:withdraw"]),
    body=st.binary(max_size=2000),
    content_type=content_types,
    address=addresses,
)
def test_many_request_bodies(db, client, path, body, content_type, address):
    _raw_post(client, path, body, content_type, address)


@pytest.mark.slow
@fuzz(MANY)
@given(path=public_pages, query=queries)
def test_many_queries_on_the_public_pages(db, client, path, query):
    _public_get(client, path, query)
