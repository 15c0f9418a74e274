"""The registry: declarations, withdrawals, sealing batches into the log, public pages,
the self-service form's defences, receipts, and the log's HTTP interface."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from phonebank.lib.errors import DomainError
from phonebank.registry import pow, selectors, services
from phonebank.registry.models import Declaration, Source, Throttle, Withdrawal
from phonebank.tlog import merkle, note, records, tiles
from phonebank.tlog import selectors as log
from phonebank.tlog.models import Checkpoint, Tile
from phonebank.tlog.services import LogRefused, log_signer

ORGS = {"party", "league", "pioneers"}


def declare(alias="自由人", orgs=("party",), province="", source=Source.PHONE):
    return services.declaration_record(
        alias=alias,
        organisations=list(orgs),
        allowed=ORGS,
        source=source,
        consent=True,
        province=province,
    )


def verified_checkpoint() -> note.Checkpoint:
    text = note.open(log.latest_checkpoint().note, [log_signer().verifier()]).text
    return note.parse_checkpoint(text)


# --- declarations, receipts, sealing ----------------------------------------------------


def test_a_receipt_code_has_80_bits_and_only_its_commitment_is_stored(db):
    d, code = declare()
    assert re.fullmatch(r"([A-HJ-NP-Z2-9]{4}-){3}[A-HJ-NP-Z2-9]{4}", code)
    assert 32**16 == 2**80
    assert d.receipt_hash == services.receipt_hash(code) != code
    assert code.replace("-", "") not in json.dumps(list(Declaration.objects.values()), default=str)
    # Read aloud and typed back in any case or grouping, it still finds the entry.
    assert services.receipt_hash(code.lower().replace("-", " ")) == d.receipt_hash


def test_declarations_need_consent_alias_organisation_and_a_known_province(db):
    with pytest.raises(DomainError, match="agreement"):
        services.declaration_record(
            alias="a", organisations=["party"], allowed=ORGS, source="web", consent=False
        )
    with pytest.raises(DomainError, match="alias"):
        declare(alias="   ")
    with pytest.raises(DomainError, match="organisation"):
        declare(orgs=())
    with pytest.raises(DomainError, match="Unknown organisation"):
        declare(orgs=("army",))
    with pytest.raises(DomainError, match="province"):
        declare(province="XX")
    assert not Declaration.objects.exists()


def test_nothing_is_public_until_the_batch_is_sealed(db, client):
    declare(alias="晨光")
    assert selectors.published() is None
    assert "晨光" not in client.get(reverse("registry:index")).content.decode()
    assert client.get("/log/checkpoint").status_code == 404
    sealed = services.registry_publish()
    assert (sealed.added, sealed.size) == (1, 1)
    assert "晨光" in client.get(reverse("registry:index")).content.decode()
    assert services.registry_publish() is None  # nothing pending: no empty checkpoint


def test_a_sealed_batch_is_shuffled_and_every_leaf_is_the_public_record_only(db):
    made = [declare(alias=f"alias-{i}", province="GD" if i % 2 else "") for i in range(40)]
    services.registry_publish()
    order = [d.alias for d in Declaration.objects.order_by("log_index")]
    assert sorted(order) == sorted(d.alias for d, _ in made)
    assert order != [d.alias for d, _ in made]  # 1 in 40! to fail by chance
    for d, code in made:
        d.refresh_from_db()
        record = records.decode(log.leaf(d.log_index))
        assert record == {
            "v": 1,
            "type": "declaration",
            "alias": d.alias,
            "organisations": ["party"],
            "province": d.province,
            "date": d.declared_on.isoformat(),
            "source": "phone",
            "receipt": services.receipt_hash(code),
        }


def test_no_leaf_holds_personal_data(db, campaign):
    """A declaration made on a call: the contact's number and name, the caller, the
    campaign and the time of day appear in no leaf and no checkpoint."""
    from phonebank.calling import services as calling
    from phonebank.calling.models import Target
    from phonebank.contacts.models import Contact
    from phonebank.lib.fields import keyring
    from tests.conftest import _user

    caller = _user("volunteer-zhou-7", "caller", campaign)
    contact = Contact.objects.create(
        blind_index=keyring().blind_index("+8613812345678"),
        phone="+8613812345678",
        name="王秘密",
        country="CN",
        province="BJ",
        timezone="Asia/Shanghai",
    )
    Target.objects.create(campaign=campaign, contact=contact)
    morning = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    target = calling.target_claim(campaign=campaign, caller=caller, now=morning).target
    _attempt, code = calling.outcome_record(
        caller=caller,
        target=target,
        outcome="declared",
        declaration={"alias": "新生", "organisations": ["party"], "consent": True},
        now=morning + timedelta(minutes=5),
    )
    services.registry_publish()
    published = b"".join(log.leaves(0, log.tree_size())) + log.latest_checkpoint().note.encode()
    for secret in ("13812345678", "王秘密", caller.username, campaign.slug, "03:0", "11:0"):
        assert secret.encode() not in published
    assert code.replace("-", "").encode() not in published
    assert set(records.decode(log.leaf(0))) == {
        "v",
        "type",
        "alias",
        "organisations",
        "province",
        "date",
        "source",
        "receipt",
    }


def test_withdrawal_is_a_new_entry_and_the_counts_drop_only_once_it_is_sealed(db, client):
    d, code = declare(alias="后悔", orgs=("party", "league"), province="BJ")
    declare(alias="坚定", province="BJ")
    services.registry_publish()
    assert selectors.counts(log.latest_checkpoint())["active"] == 2
    services.declaration_withdraw(code=code)
    with pytest.raises(DomainError, match="already"):
        services.declaration_withdraw(code=code)
    assert selectors.counts(log.latest_checkpoint())["active"] == 2  # not sealed yet
    services.registry_publish()
    counts = selectors.counts(log.latest_checkpoint())
    assert counts | {"days": {}} == {
        "declarations": 2,
        "withdrawals": 1,
        "active": 1,
        "organisations": {"party": 1},
        "provinces": {"BJ": 1},
        "days": {},
    }
    d.refresh_from_db()
    assert records.decode(log.leaf(d.log_index))["alias"] == "后悔"  # still there
    w = Withdrawal.objects.get()
    assert records.decode(log.leaf(w.log_index)) == {
        "v": 1,
        "type": "withdrawal",
        "receipt": d.receipt_hash,
        "date": w.withdrawn_on.isoformat(),
    }
    page = client.get(
        reverse("registry:declarations"), {"q": "后悔"}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "withdrawn" in page


def test_withdrawing_before_the_declaration_is_sealed_seals_both_in_order(db):
    d, code = declare()
    services.declaration_withdraw(code=code)
    services.registry_publish()
    d.refresh_from_db()
    assert d.log_index < d.withdrawal.log_index
    assert selectors.counts(log.latest_checkpoint())["active"] == 0


def test_published_counts_equal_a_recount_of_the_leaves(db):
    codes = [
        declare(
            alias=f"a{i}",
            orgs=(["party", "league", "pioneers"][i % 3],),
            province=["", "GD", "SH"][i % 3],
        )[1]
        for i in range(30)
    ]
    services.registry_publish()
    for code in codes[::4]:
        services.declaration_withdraw(code=code)
    declare(alias="late")
    services.registry_publish()
    tally = records.Tally()
    for data in log.leaves(0, log.tree_size()):
        tally.add(records.decode(data))
    published = selectors.stats_document(log.latest_checkpoint())
    recount = tally.as_dict()
    for figure in ("declarations", "withdrawals", "active", "organisations", "provinces"):
        assert published[figure] == recount[figure], figure


def test_batches_are_sealed_on_period_boundaries_not_on_arrival(db):
    hour = 3600
    t0 = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
    declare()
    assert services.registry_publish_due(hour, now=t0) is not None  # first batch
    declare(alias="second")
    assert services.registry_publish_due(hour, now=t0 + timedelta(minutes=30)) is None
    sealed = services.registry_publish_due(hour, now=t0 + timedelta(minutes=60))
    assert sealed is not None and sealed.size == 2
    assert services.registry_publish_due(hour, now=t0 + timedelta(hours=5)) is None  # none pending


# --- the log's storage and its signer ---------------------------------------------------


def test_the_stored_tree_matches_a_memory_tree_across_many_batches(db):
    from django.db import transaction

    from phonebank.tlog import services as log_services

    reference = merkle.MemoryTree()
    entries = [f"entry {i}".encode() for i in range(700)]
    pos = 0
    for size in (1, 2, 253, 1, 300, 143):
        batch = entries[pos : pos + size]
        with transaction.atomic():
            log_services.log_append(batch)
            log_services.checkpoint_sign()
        reference.extend(merkle.leaf_hash(e) for e in batch)
        pos += size
        assert log.root(pos) == reference.root()
    assert log.leaves(250, 260) == entries[250:260]
    for index, size in ((0, 1), (5, 700), (699, 700), (256, 257), (300, 512)):
        assert log.inclusion_proof(index, size) == reference.inclusion_proof(index, size)
    for m, n in ((1, 700), (256, 512), (257, 700), (700, 700)):
        assert log.consistency_proof(m, n) == reference.consistency_proof(m, n)
    assert Tile.objects.count() == 4  # tiles 0/0, 0/1 (full), 0/2 (partial), 1/0


def test_the_signer_refuses_a_tree_inconsistent_with_its_last_checkpoint(db):
    for i in range(3):
        declare(alias=f"x{i}")
    services.registry_publish()
    first = log.latest_checkpoint()
    tile = Tile.objects.get(level=0, index=0)
    forged = bytearray(tile.hashes)
    forged[0] ^= 1  # someone rewrites history in the database
    tile.hashes = bytes(forged)
    tile.save()
    declare(alias="next")
    with pytest.raises(LogRefused, match="not consistent"):
        services.registry_publish()
    assert log.latest_checkpoint() == first  # nothing signed, nothing sealed
    assert Declaration.objects.filter(log_index__isnull=True).count() == 1


def test_checkpoints_are_signed_c2sp_notes(db, client):
    declare()
    services.registry_publish()
    cp = verified_checkpoint()
    assert (cp.origin, cp.size) == (log_signer().name, 1)
    vkey = client.get("/log/key").content.decode().strip()
    assert note.parse_verifier_key(vkey) == log_signer().verifier()
    assert client.get("/log/checkpoint")["Content-Type"].startswith("text/plain")


# --- the log's HTTP interface ----------------------------------------------------------


def test_log_endpoints_serve_leaves_and_proofs_that_verify(db, client):
    made = [declare(alias=f"p{i}")[0] for i in range(10)]
    services.registry_publish()
    cp = verified_checkpoint()
    body = client.get("/log/leaves", {"start": 0, "end": 10}).json()
    leaves = [base64.b64decode(x) for x in body["leaves"]]
    assert merkle.root_from_leaves([merkle.leaf_hash(x) for x in leaves]) == cp.root
    made[3].refresh_from_db()
    i = made[3].log_index
    proof = [
        base64.b64decode(h)
        for h in client.get("/log/proof/inclusion", {"index": i, "size": 10}).json()["hashes"]
    ]
    merkle.verify_inclusion(merkle.leaf_hash(leaves[i]), i, 10, proof, cp.root)
    declare(alias="more")
    services.registry_publish()
    cp2 = verified_checkpoint()
    proof = [
        base64.b64decode(h)
        for h in client.get("/log/proof/consistency", {"first": 10, "second": 11}).json()["hashes"]
    ]
    merkle.verify_consistency(10, 11, proof, cp.root, cp2.root)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/log/leaves", {"start": 0, "end": 5}),  # beyond the tree
        ("/log/leaves", {"start": 2, "end": 1}),
        ("/log/leaves", {"start": "x", "end": 1}),
        ("/log/leaves", {}),
        ("/log/proof/inclusion", {"index": 3, "size": 3}),
        ("/log/proof/inclusion", {"index": 0, "size": 9}),
        ("/log/proof/inclusion", {"index": -1, "size": 2}),
        ("/log/proof/consistency", {"first": 0, "second": 3}),
        ("/log/proof/consistency", {"first": 3, "second": 2}),
        ("/log/proof/consistency", {"first": 1, "second": 99999999999999999999999}),
    ],
)
def test_bad_log_requests_get_a_400_with_a_json_error(db, client, path, params):
    for i in range(3):
        declare(alias=f"q{i}")
    services.registry_publish()
    response = client.get(path, params)
    assert response.status_code == 400
    assert response.json()["error"]


def test_at_most_1000_leaves_per_request(db, client, monkeypatch):
    monkeypatch.setattr(log, "MAX_LEAVES", 2)
    for i in range(3):
        declare(alias=f"r{i}")
    services.registry_publish()
    assert client.get("/log/leaves", {"start": 0, "end": 3}).status_code == 400
    assert len(client.get("/log/leaves", {"start": 1, "end": 3}).json()["leaves"]) == 2


def test_c2sp_tiles_are_served_for_published_sizes(db, client):
    for i in range(3):
        declare(alias=f"t{i}")
    services.registry_publish()
    data = client.get("/log/tile/0/000.p/3")
    assert data.status_code == 200 and data["Content-Type"] == "application/octet-stream"
    assert len(data.content) == 96
    assert [
        merkle.leaf_hash(x)
        for x in tiles.bundle_entries(client.get("/log/tile/entries/000.p/3").content)
    ] == [data.content[i : i + 32] for i in range(0, 96, 32)]
    assert client.get("/log/tile/0/000.p/2").status_code == 404  # no checkpoint at size 2
    assert client.get("/log/tile/0/000").status_code == 404  # not full
    assert client.get("/log/tile/0/x000/000.p/3").status_code == 404  # not canonical


# --- public pages ---------------------------------------------------------------------


def test_public_pages_in_three_languages_with_chinese_first(db, client):
    declare(alias="春风", orgs=("party", "league"), province="GD")
    services.registry_publish()
    default = client.get(reverse("registry:index"), HTTP_ACCEPT_LANGUAGE="de")
    assert 'lang="zh-hans"' in default.content.decode() and "中国共产党" in default.content.decode()
    for language, word in (
        ("en", "Registry of declarations"),
        ("zh-hans", "共青团"),
        ("zh-hant", "共青團"),
    ):
        page = client.get(reverse("registry:index"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert word in page and "春风" in page
    provinces_page = client.get(
        reverse("registry:provinces"), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Guangdong" in provinces_page
    svg = client.get(reverse("registry:chart", args=["days"]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert svg["Content-Type"].startswith("image/svg+xml") and b"<script" not in svg.content
    assert "script-src 'none'" in svg["Content-Security-Policy"]
    assert client.get("/registry/chart/nope.svg").status_code == 404


def test_search_by_alias_shows_only_sealed_entries(db, client):
    declare(alias="明天会更好")
    declare(alias="另一个")
    services.registry_publish()
    declare(alias="明天还没封存")
    page = client.get(reverse("registry:declarations"), {"q": "明天"}).content.decode()
    assert "明天会更好" in page and "另一个" not in page and "明天还没封存" not in page


def test_stats_json_is_public_and_names_the_tree_size(db, client):
    declare(orgs=("party", "pioneers"))
    services.registry_publish()
    stats = client.get(reverse("registry:stats")).json()
    assert stats["size"] == 1 and stats["active"] == 1
    assert stats["organisations"] == {"party": 1, "pioneers": 1}
    assert base64.b64decode(stats["root"]) == bytes(log.latest_checkpoint().root)


# --- the self-service form -------------------------------------------------------------


def _form(client, **overrides):
    page = client.get(reverse("registry:declare"), HTTP_ACCEPT_LANGUAGE="en")
    challenge = json.loads(
        html.unescape(re.search(r'data-challenge="([^"]+)"', page.content.decode())[1])
    )
    data = {
        "alias": "Free bird",
        "organisations": ["league"],
        "province": "SH",
        "consent": "on",
        "website": "",
        "altcha": pow.solve(challenge),
    }
    return {**data, **overrides}


def test_a_web_declaration_shows_its_receipt_once(db, client):
    response = client.post(reverse("registry:declare"), _form(client), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    code = re.search(r'id="receipt-code">([A-Z0-9-]+)<', response.content.decode())[1]
    assert "no-store" in response["Cache-Control"]
    d = Declaration.objects.get()
    assert (d.alias, d.source, d.province) == ("Free bird", "web", "SH")
    assert d.receipt_hash == services.receipt_hash(code)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"consent": ""}, "explicit agreement"),
        ({"organisations": []}, "at least one organisation"),
        ({"alias": "  "}, "This field is required"),
        ({"alias": "x" * 65}, "at most 64"),
        ({"organisations": ["army"]}, "not one of the available choices"),
        ({"altcha": ""}, "anti-spam check"),
        ({"altcha": "bm90IGpzb24="}, "anti-spam check"),
        ({"website": "http://spam.example"}, "could not be sent"),
    ],
)
def test_bad_or_robotic_form_posts_re_render_with_a_message(db, client, overrides, message):
    response = client.post(
        reverse("registry:declare"), _form(client, **overrides), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Declaration.objects.exists()


def test_a_solved_challenge_cannot_be_replayed(db, client):
    data = _form(client)
    assert client.post(reverse("registry:declare"), data).status_code == 200
    again = client.post(
        reverse("registry:declare"), {**data, "alias": "copy"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert again.status_code == 400 and "anti-spam check" in again.content.decode()
    assert Declaration.objects.count() == 1


def test_an_expired_challenge_is_refused(db, client, time_machine):
    time_machine.move_to(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    data = _form(client)
    time_machine.move_to(datetime(2026, 11, 25, 11, 0, tzinfo=UTC))
    response = client.post(reverse("registry:declare"), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "anti-spam check" in response.content.decode()


def test_declarations_are_rate_limited_per_address_and_addresses_are_not_stored(
    db, client, monkeypatch
):
    from phonebank.registry import views

    monkeypatch.setitem(views.LIMITS, "declare", (2, timedelta(hours=1)))
    for _ in range(2):
        assert client.post(reverse("registry:declare"), _form(client)).status_code == 200
    third = client.post(reverse("registry:declare"), _form(client), HTTP_ACCEPT_LANGUAGE="en")
    assert third.status_code == 400 and "Too many declarations" in third.content.decode()
    other = client.post(reverse("registry:declare"), _form(client), REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 200
    assert Declaration.objects.count() == 3
    assert "127.0.0.1" not in json.dumps(list(Throttle.objects.values()), default=str)
    # Expired counters go.
    assert (
        services.throttles_prune(older_than=timedelta(0), now=datetime(2100, 1, 1, tzinfo=UTC)) >= 2
    )
    assert not Throttle.objects.exists()


def test_check_and_withdraw_by_receipt_code(db, client):
    _d, code = declare(alias="查询者")
    pending = client.post(
        reverse("registry:check"), {"code": code}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Waiting for the next batch" in pending
    services.registry_publish()
    page = client.post(
        reverse("registry:check"), {"code": code.lower()}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "查询者" in page and "✓ Entry 0 is in the signed log of 1 entries" in page
    proof = json.loads(html.unescape(re.search(r'data-proof="([^"]+)"', page)[1]))
    assert base64.b64decode(proof["leaf"]) == log.leaf(0)
    unknown = client.post(
        reverse("registry:check"), {"code": "AAAA-AAAA-AAAA-AAAA"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (
        unknown.status_code == 400
        and "No declaration has this receipt code" in unknown.content.decode()
    )
    malformed = client.post(reverse("registry:check"), {"code": "123"}, HTTP_ACCEPT_LANGUAGE="en")
    assert malformed.status_code == 400 and "16 letters and digits" in malformed.content.decode()

    no_confirm = client.post(
        reverse("registry:withdraw"), {"code": code}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert no_confirm.status_code == 400 and not Withdrawal.objects.exists()
    done = client.post(
        reverse("registry:withdraw"), {"code": code, "confirm": "on"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert done.status_code == 200 and "Your declaration is withdrawn" in done.content.decode()
    again = client.post(
        reverse("registry:withdraw"), {"code": code, "confirm": "on"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert again.status_code == 400 and "already been withdrawn" in again.content.decode()
    services.registry_publish()
    page = client.post(
        reverse("registry:check"), {"code": code}, HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    assert "Withdrawn" in page


def test_the_worker_seals_due_batches(db):
    """The worker's loop calls this each time round (the loop itself closes stale database
    connections, which a test's transaction cannot survive on PostgreSQL)."""
    from io import StringIO

    from phonebank.contacts.management.commands.worker import Command

    declare()
    out = StringIO()
    command = Command(stdout=out)
    command._registry()
    assert log.tree_size() == 1 and Checkpoint.objects.count() == 1
    assert "sealed 1 entries" in out.getvalue()
    command._registry()  # nothing pending: no new checkpoint
    assert Checkpoint.objects.count() == 1


# --- the commands: publish, and verify against this installation's own log --------------


def test_publish_and_verify_the_local_log_end_to_end(db, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    def run(*args):
        out = StringIO()
        call_command("registry", *args, stdout=out)
        return out.getvalue()

    assert run("publish") == "nothing pending; the log has 0 entries\n"
    codes = [declare(alias=f"v{i}", province="GD")[1] for i in range(5)]
    assert run("publish") == "sealed 5 entries; the log now has 5 entries\n"
    state = str(tmp_path / "audit.json")
    assert "5 entries" in run("verify", "--state", state)
    services.declaration_withdraw(code=codes[0])
    declare(alias="late")
    run("publish")
    assert "7 entries" in run("verify", "--state", state)  # incremental, consistent
    # Someone rewrites a published leaf in the database: the audit fails, loudly.
    from phonebank.tlog.models import Bundle

    bundle = Bundle.objects.get(index=0)
    bundle.entries = bytes(bundle.entries).replace(b'"v3"', b'"v9"')
    bundle.save()
    with pytest.raises(CommandError, match="verify FAILED"):
        run("verify", "--state", state, "--full")
