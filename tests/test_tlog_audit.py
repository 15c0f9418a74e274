"""tlog.records and tlog.audit: the leaf records, and the auditor checking a log from outside.

The log under audit is a fake in memory (merkle.MemoryTree, checkpoints signed with
tlog.note) served by a fetch function, so each way a log can misbehave is one line.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import io
import json
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import hypothesis
import pytest
from django.core.management import CommandError, call_command
from django.http import HttpResponse
from django.http.request import validate_host
from django.urls import re_path
from hypothesis import given
from hypothesis import strategies as st

from phonebank.registry.management.commands.registry import local_host
from phonebank.tlog import note, records
from phonebank.tlog.audit import AuditError, audit, http_fetcher
from phonebank.tlog.merkle import MemoryTree, leaf_hash
from phonebank.tlog.records import Tally

ORIGIN = "registry.example.org/log"
DAY = "2025-03-01"


def receipt(n: int) -> str:
    return hashlib.sha256(f"receipt {n}".encode()).hexdigest()


def declaration(n: int, organisations=("party",), province="GD", alias=None) -> bytes:
    return records.encode_declaration(
        alias=alias or f"kite {n}",
        organisations=organisations,
        province=province,
        date=DAY,
        source="phone",
        receipt=receipt(n),
    )


def withdrawal(n: int) -> bytes:
    return records.encode_withdrawal(receipt=receipt(n), date=DAY)


def raw_leaf(obj: dict) -> bytes:
    """A leaf serialised as given, without the encoder's checks."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class FakeLog:
    """A log in memory that answers the paths the auditor fetches, as the server would.

    Tests break it on purpose: `overrides` answers a path with any response, `served`
    replaces a leaf's bytes without changing the tree, `checkpoint_size` signs an older
    tree, `stats_patch` changes published figures, `max_leaves` shortens leaf responses.
    """

    def __init__(self, signer: note.Signer | None = None):
        self.signer = signer or note.generate_signer(ORIGIN)
        self.leaves: list[bytes] = []
        self.tree = MemoryTree()
        self.overrides: dict[str, tuple[int, str, bytes]] = {}
        self.served: dict[int, bytes] = {}
        self.checkpoint_size: int | None = None
        self.checkpoint_note: str | None = None
        self.stats_patch: dict = {}
        self.max_leaves = 1000
        self.on_stats = None  # called before each /registry/stats.json answer
        self.requests: list[str] = []

    def add(self, *leaves: bytes) -> FakeLog:
        self.leaves.extend(leaves)
        self.tree.extend(leaf_hash(leaf) for leaf in leaves)
        return self

    def declare(self, *numbers: int, **fields) -> FakeLog:
        return self.add(*(declaration(n, **fields) for n in numbers))

    def signed(self, size: int | None = None, *, root=None, origin=None, signer=None) -> str:
        size = self.tree.size if size is None else size
        text = note.checkpoint_text(origin or ORIGIN, size, root or self.tree.root(size))
        return note.sign(text, signer or self.signer)

    def stats(self, size: int) -> dict:
        tally = Tally()
        for leaf in self.leaves[:size]:
            tally.add(records.decode(leaf))
        return {"size": size, "root": "ignored", **tally.as_dict(), **self.stats_patch}

    def fetch(self, path: str) -> tuple[int, str, bytes]:
        self.requests.append(path)
        if path in self.overrides:
            return self.overrides[path]
        url = urlsplit(path)
        q = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
        size = self.tree.size if self.checkpoint_size is None else self.checkpoint_size
        text = "text/plain; charset=utf-8"
        if url.path == "/log/key":
            return 200, text, (self.signer.vkey + "\n").encode()
        if url.path == "/log/checkpoint":
            return 200, text, (self.checkpoint_note or self.signed(size)).encode()
        if url.path == "/log/leaves":
            start, end = q["start"], min(q["end"], q["start"] + self.max_leaves)
            if not 0 <= start < end <= self.tree.size:
                return 400, "application/json", b'{"error": "range"}'
            data = [self.served.get(i, self.leaves[i]) for i in range(start, end)]
            return self.json({"leaves": [base64.b64encode(d).decode() for d in data]})
        if url.path == "/log/proof/consistency":
            proof = self.tree.consistency_proof(q["first"], q["second"])
            return self.json({"hashes": [base64.b64encode(h).decode() for h in proof]})
        if url.path == "/registry/stats.json":
            if self.on_stats:
                self.on_stats()
            return self.json(self.stats(size))
        return 404, "text/html", b"<h1>Not found</h1>"

    @staticmethod
    def json(obj) -> tuple[int, str, bytes]:
        return 200, "application/json", json.dumps(obj).encode()

    def leaf_requests(self) -> list[str]:
        return [p for p in self.requests if p.startswith("/log/leaves")]


@pytest.fixture
def log() -> FakeLog:
    return FakeLog().declare(1, 2, 3)


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "audit" / "state.json"


def fails(log: FakeLog, state: Path, match: str, **kwargs) -> AuditError:
    before = state.read_bytes() if state.exists() else None
    with pytest.raises(AuditError, match=match) as caught:
        audit(log.fetch, state, **kwargs)
    after = state.read_bytes() if state.exists() else None
    assert after == before, "a failed audit must leave the state as it was"
    return caught.value


# -- records --------------------------------------------------------------------------------


def test_a_declaration_encodes_to_sorted_compact_json_and_decodes_back():
    data = records.encode_declaration(
        alias="小明",
        organisations=["party", "league", "party"],
        province="GD",
        date=datetime.date(2025, 3, 1),
        source="web",
        receipt=receipt(1),
    )
    assert (
        data
        == (
            '{"alias":"小明","date":"2025-03-01","organisations":["league","party"],'
            f'"province":"GD","receipt":"{receipt(1)}","source":"web","type":"declaration","v":1}}'
        ).encode()
    )
    assert records.decode(data)["organisations"] == ["league", "party"]
    assert records.encode(records.decode(data)) == data


def test_a_withdrawal_encodes_and_decodes():
    data = withdrawal(1)
    assert records.decode(data) == {
        "v": 1,
        "type": "withdrawal",
        "receipt": receipt(1),
        "date": DAY,
    }


GOOD = records.decode(declaration(1))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "unexpected keys extra"),
        ({"alias": None}, "missing keys alias"),
        ({"v": True}, "version"),
        ({"v": 2}, "version"),
        ({"type": "petition"}, "unknown record type"),
        ({"receipt": receipt(1).upper()}, "receipt"),
        ({"receipt": receipt(1)[:63]}, "receipt"),
        ({"date": "2025-02-30"}, "calendar date"),
        ({"date": "20250301"}, "YYYY-MM-DD"),
        ({"alias": ""}, "alias has 0"),
        ({"alias": "x" * 65}, "alias has 65"),
        ({"organisations": []}, "non-empty list"),
        ({"organisations": ["party", "league"]}, "sorted and unique"),
        ({"organisations": ["league", "league"]}, "sorted and unique"),
        ({"organisations": ["Party"]}, "lowercase slug"),
        ({"province": "gd"}, "two-letter"),
        ({"province": "GDX"}, "two-letter"),
        ({"source": "mail"}, "source"),
        ({"alias": 7}, "not a string"),
    ],
)
def test_decode_refuses_records_that_break_the_format(change, message):
    obj = {**GOOD, **change}
    obj = {k: v for k, v in obj.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        records.decode(raw_leaf(obj))


@pytest.mark.parametrize(
    "data",
    [
        json.dumps(GOOD, sort_keys=True).encode(),  # spaces after separators
        json.dumps(dict(reversed(GOOD.items())), separators=(",", ":")).encode(),  # key order
        raw_leaf({**GOOD, "alias": "小明"}).replace("小明".encode(), b"\\u5c0f\\u660e"),
        raw_leaf(GOOD) + b"\n",
        raw_leaf(GOOD).replace(b'"v":1', b'"v":1,"v":1'),  # a duplicate key
    ],
)
def test_decode_refuses_every_encoding_but_the_canonical_one(data):
    assert json.loads(data)["type"] == "declaration"
    with pytest.raises(ValueError, match="canonical"):
        records.decode(data)


def test_decode_refuses_what_is_not_a_json_object_in_utf8():
    for data, message in ((b"\xff", "UTF-8"), (b"[1]", "object"), (b"{", "not JSON")):
        with pytest.raises(ValueError, match=message):
            records.decode(data)


def test_the_encoders_refuse_invalid_fields():
    with pytest.raises(ValueError, match="alias"):
        records.encode_declaration(
            alias="",
            organisations=["party"],
            province="",
            date=DAY,
            source="web",
            receipt=receipt(1),
        )
    with pytest.raises(ValueError, match="receipt"):
        records.encode_withdrawal(receipt="RECEIPT-CODE", date=DAY)


aliases = st.text(
    st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=records.ALIAS_MAX
)
codes = st.from_regex(r"[a-z0-9_-]{1,32}", fullmatch=True)
declarations = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "type": st.just("declaration"),
        "alias": aliases,
        "organisations": st.lists(codes, min_size=1, max_size=5, unique=True).map(sorted),
        "province": st.sampled_from(["", "GD", "BJ", "XZ"]),
        "date": st.dates().map(datetime.date.isoformat),
        "source": st.sampled_from(records.SOURCES),
        "receipt": st.binary(min_size=32, max_size=32).map(bytes.hex),
    }
)
withdrawals = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "type": st.just("withdrawal"),
        "receipt": st.binary(min_size=32, max_size=32).map(bytes.hex),
        "date": st.dates().map(datetime.date.isoformat),
    }
)


@hypothesis.settings(derandomize=True, deadline=None, max_examples=200)
@given(declarations | withdrawals)
def test_decode_inverts_encode_for_any_valid_record(record):
    data = records.encode(record)
    assert records.decode(data) == record
    assert records.encode(records.decode(data)) == data


def test_tally_counts_active_declarations_per_organisation_and_province():
    tally = Tally()
    for leaf in (
        declaration(1, organisations=("league", "party")),
        declaration(2, province=""),
        declaration(3, province="BJ"),
        withdrawal(3),
    ):
        tally.add(records.decode(leaf))
    assert tally.as_dict() == {
        "declarations": 3,
        "withdrawals": 1,
        "active": 2,
        "organisations": {"league": 1, "party": 2},
        "provinces": {"GD": 1},
    }
    assert tally.receipts[receipt(3)].index == 2
    assert Tally.from_receipts(tally.receipts).as_dict() == tally.as_dict()


# -- the auditor: a log that keeps its promises ----------------------------------------------


def test_a_clean_log_verifies_and_its_state_is_saved(log, state):
    result = audit(log.fetch, state)
    assert (result.size, result.root, result.new_leaves) == (3, log.tree.root(), 3)
    assert result.previous_size is None
    assert result.key == log.signer.vkey
    assert result.key_id == f"{ORIGIN}+{log.signer.key_id:08x}"
    assert result.counts == {
        "declarations": 3,
        "withdrawals": 0,
        "active": 3,
        "organisations": {"party": 3},
        "provinces": {"GD": 3},
    }
    saved = json.loads(state.read_text())
    assert saved["key"] == log.signer.vkey
    assert saved["checkpoint"]["size"] == 3
    assert saved["receipts"][receipt(2)] == {
        "index": 1,
        "organisations": ["party"],
        "province": "GD",
        "withdrawn": False,
    }
    assert list(state.parent.iterdir()) == [state], "no temporary file is left behind"


def test_an_empty_log_verifies(state):
    log = FakeLog()
    assert audit(log.fetch, state).size == 0
    log.declare(1)
    assert audit(log.fetch, state).size == 1


def test_a_second_run_fetches_only_the_new_leaves(log, state):
    audit(log.fetch, state)
    log.requests.clear()
    log.declare(4, 5)
    log.add(withdrawal(1))
    result = audit(log.fetch, state)
    assert (result.size, result.previous_size, result.new_leaves) == (6, 3, 3)
    assert log.leaf_requests() == ["/log/leaves?start=3&end=6"]
    assert "/log/proof/consistency?first=3&second=6" in log.requests
    assert result.counts["active"] == 4


def test_an_unchanged_log_needs_no_leaves_and_no_proof(log, state):
    audit(log.fetch, state)
    log.requests.clear()
    assert audit(log.fetch, state).new_leaves == 0
    assert log.requests == ["/log/key", "/log/checkpoint", "/registry/stats.json"]


def test_full_checks_every_leaf_again(log, state):
    audit(log.fetch, state)
    log.declare(4)
    log.requests.clear()
    result = audit(log.fetch, state, full=True)
    assert result.new_leaves == 4
    assert log.leaf_requests() == ["/log/leaves?start=0&end=3", "/log/leaves?start=3&end=4"]


def test_leaves_are_asked_for_a_thousand_at_a_time_and_short_answers_continue(state):
    log = FakeLog().declare(*range(2500))
    audit(log.fetch, state)
    assert log.leaf_requests() == [
        "/log/leaves?start=0&end=1000",
        "/log/leaves?start=1000&end=2000",
        "/log/leaves?start=2000&end=2500",
    ]
    log.declare(2500, 2501, 2502)
    log.max_leaves = 2
    log.requests.clear()
    audit(log.fetch, state)
    assert log.leaf_requests() == [
        "/log/leaves?start=2500&end=2503",
        "/log/leaves?start=2502&end=2503",
    ]


def test_a_seal_between_checkpoint_and_counts_is_checked_against_the_newer_checkpoint(log, state):
    log.checkpoint_size = 3
    log.declare(4)

    def sealed():  # the counts are already those of size 4; so is the next checkpoint
        log.checkpoint_size = None
        log.on_stats = None

    log.on_stats = sealed
    log.stats_patch = {"size": 4, **log.stats(4)}
    result = audit(log.fetch, state)
    assert result.size == 4
    assert log.requests.count("/log/checkpoint") == 2


def test_counts_for_another_size_fail_after_one_more_try(log, state):
    log.stats_patch = {"size": 7}
    fails(log, state, r"are for size 7, but the log's checkpoint has size 3 \(read twice\)")
    assert log.requests.count("/log/checkpoint") == 2


def test_an_explicit_key_is_required_of_the_log(log, state, tmp_path):
    assert audit(log.fetch, state, key=log.signer.vkey).size == 3
    other = note.generate_signer(ORIGIN)
    fails(log, state, "pins key .* not the key given", key=other.vkey)
    fails(log, state, "the key given is not a verifier key", key="nonsense")
    error = fails(
        log, tmp_path / "other.json", "the log's key is not the key given", key=other.vkey
    )
    assert f"expected {ORIGIN}+{other.key_id:08x}, the log now serves" in str(error)


# -- the auditor: a log that breaks them -----------------------------------------------------


def test_a_checkpoint_whose_signature_does_not_verify_fails(log, state):
    log.checkpoint_note = log.signed().replace("\n3\n", "\n4\n")
    fails(log, state, r"GET /log/checkpoint: the signature does not verify .*signature by")


def test_a_checkpoint_signed_by_another_key_fails(log, state):
    log.checkpoint_note = log.signed(signer=note.generate_signer(ORIGIN))
    fails(log, state, "no signature on the note is by a known key")


def test_a_changed_key_fails_naming_both(log, state):
    audit(log.fetch, state)
    old = log.signer
    log.signer = note.generate_signer(ORIGIN)
    error = fails(log, state, "the log's key changed")
    assert f"{ORIGIN}+{old.key_id:08x}" in str(error)
    assert f"{ORIGIN}+{log.signer.key_id:08x}" in str(error)


def test_a_checkpoint_for_another_origin_fails(log, state):
    log.checkpoint_note = log.signed(origin="elsewhere.example/log")
    fails(log, state, f"origin 'elsewhere.example/log' is not the key's name '{ORIGIN}'")


def test_an_altered_leaf_does_not_hash_to_the_signed_root(log, state):
    log.served[1] = declaration(2, organisations=("league",))
    fails(log, state, r"do not hash to the root of the checkpoint \(size 3\)")


def test_a_fork_at_the_same_size_fails(log, state):
    audit(log.fetch, state)
    log.checkpoint_note = log.signed(root=hashlib.sha256(b"another tree").digest())
    fails(log, state, "fork: the checkpoint of size 3 has root")


def test_a_rollback_fails(log, state):
    audit(log.fetch, state)
    log.checkpoint_size = 2
    fails(log, state, "rollback: the log's checkpoint has size 2, smaller than the size 3")


def test_a_rewritten_history_fails_its_consistency_proof(log, state):
    audit(log.fetch, state)
    rewritten = FakeLog(log.signer).declare(1, 7, 3, 4, 5)
    fails(rewritten, state, "consistency proof from size 3 to 5 does not verify")


def test_a_bad_consistency_proof_fails(log, state):
    audit(log.fetch, state)
    log.declare(4, 5)
    proof = log.tree.consistency_proof(3, 5)
    proof[0] = hashlib.sha256(b"not this").digest()
    log.overrides["/log/proof/consistency?first=3&second=5"] = FakeLog.json(
        {"hashes": [base64.b64encode(h).decode() for h in proof]}
    )
    fails(log, state, "consistency proof from size 3 to 5 does not verify")


def test_the_leaves_before_must_still_give_the_old_root_on_a_full_run(log, state):
    audit(log.fetch, state)
    log.declare(4)
    log.served[0] = declaration(9)
    fails(log, state, r"root of the checkpoint verified on an earlier run \(size 3\)", full=True)


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        (json.dumps(GOOD).encode(), "leaf 3 is not a valid registry record: .*canonical"),
        (raw_leaf({**GOOD, "phone": "+8613800138000"}), "leaf 3 .*unexpected keys phone"),
        (withdrawal(99), f"leaf 3 breaks .*withdrawal of receipt {receipt(99)}, which no earlier"),
        (declaration(2), f"leaf 3 breaks .*receipt {receipt(2)} was already declared at leaf 1"),
    ],
)
def test_a_leaf_that_breaks_the_registry_rules_fails(log, state, leaf, message):
    log.add(leaf)
    fails(log, state, message)


def test_a_second_withdrawal_of_one_receipt_fails(log, state):
    log.add(withdrawal(2))
    audit(log.fetch, state)  # the rule holds across runs: the state remembers the withdrawal
    log.add(withdrawal(2))
    fails(log, state, f"leaf 4 breaks .*receipt {receipt(2)} .*already withdrawn")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"active": 4}, "active: published 4, recounted 3"),
        (
            {"organisations": {"party": 3, "league": 1}},
            r"organisations\[league\]: published 1, recounted 0",
        ),
        ({"provinces": {}}, r"provinces\[GD\]: published 0, recounted 3"),
        ({"provinces": None}, r"provinces: published null, recounted \{\"GD\": 3\}"),
        ({"declarations": "3"}, 'declarations: published "3", recounted 3'),
    ],
)
def test_published_counts_that_differ_from_the_recount_fail(log, state, patch, message):
    log.stats_patch = patch
    fails(log, state, message)


def test_published_counts_may_list_codes_with_no_active_declaration(log, state):
    log.stats_patch = {"organisations": {"party": 3, "league": 0}}
    assert audit(log.fetch, state).size == 3


@pytest.mark.parametrize(
    ("path", "response", "message"),
    [
        ("/log/checkpoint", (500, "text/html", b"oops"), "GET /log/checkpoint: HTTP 500"),
        ("/log/key", (200, "text/html", b"<html>"), "GET /log/key: content type 'text/html'"),
        ("/log/key", (200, "text/plain", b"a+b+c\n"), "GET /log/key: not a verifier key"),
        (
            "/log/leaves?start=0&end=3",
            (200, "application/json", b"{"),
            r"GET /log/leaves\?start=0&end=3: the body is not JSON",
        ),
        (
            "/log/leaves?start=0&end=3",
            FakeLog.json({"leaves": ["not base64!"]}),
            "leaf 0 is not valid base64",
        ),
        (
            "/log/leaves?start=0&end=3",
            FakeLog.json({"leaves": []}),
            "no leaves, but the checkpoint has 3",
        ),
        ("/registry/stats.json", FakeLog.json({"active": 3}), "no tree size"),
    ],
)
def test_broken_http_answers_fail_naming_the_path(log, state, path, response, message):
    log.overrides[path] = response
    fails(log, state, message)


def test_a_proof_hash_of_the_wrong_length_fails(log, state):
    audit(log.fetch, state)
    log.declare(4)
    log.overrides["/log/proof/consistency?first=3&second=4"] = FakeLog.json(
        {"hashes": [base64.b64encode(b"short").decode()]}
    )
    fails(log, state, "hash 0 has 5 bytes, not 32")


def test_a_damaged_state_file_fails_without_being_overwritten(log, state):
    state.parent.mkdir()
    state.write_text('{"version": 1}')
    fails(log, state, "state file .* is damaged")


# -- HTTP and the command --------------------------------------------------------------------


@pytest.fixture
def served(log):
    """log served over HTTP on 127.0.0.1; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/moved"):
                self.send_response(302)
                self.send_header("Location", "http://elsewhere.invalid/log/key")
                self.end_headers()
                return
            status, content_type, body = log.fetch(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_http_fetcher_returns_status_type_and_body(served, log):
    fetch = http_fetcher(served + "/")
    assert fetch("/log/key") == (
        200,
        "text/plain; charset=utf-8",
        (log.signer.vkey + "\n").encode(),
    )
    assert fetch("/nothing")[0] == 404
    with pytest.raises(AuditError, match=r"redirect to http://elsewhere\.invalid/log/key"):
        fetch("/moved")
    with pytest.raises(AuditError, match="not an http or https URL"):
        http_fetcher("file:///etc/passwd")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("registry", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_verify_audits_a_url_and_fails_with_status_1_on_tampering(served, log, state):
    output = run("verify", "--url", served, "--state", str(state))
    assert f"verified {served}: 3 entries" in output
    assert "trusted on first use" in output
    log.declare(4)
    log.served[3] = declaration(4, province="BJ")
    with pytest.raises(CommandError, match=r"^verify FAILED: the leaves .* do not hash") as caught:
        run("verify", "--url", served, "--state", str(state))
    assert caught.value.returncode == 1


def test_verify_keeps_its_state_in_phonebank_home_by_default(served, settings):
    run("verify", "--url", served)
    name = hashlib.sha256(served.encode()).hexdigest()[:16]
    folder = settings.PHONEBANK_HOME / "audit"
    assert (folder / f"{name}.json").exists()
    assert folder.stat().st_mode & 0o777 == 0o700


_local_log = FakeLog()


def _serve_local_log(request, path):
    status, content_type, body = _local_log.fetch(request.get_full_path())
    return HttpResponse(body, status=status, content_type=content_type)


urlpatterns = [re_path(r"^(?P<path>.*)$", _serve_local_log, name="fake-log")]


def test_verify_without_url_audits_this_installation_in_process(settings, tmp_path, monkeypatch):
    from phonebank.accounts import policy

    settings.ROOT_URLCONF = __name__
    monkeypatch.setitem(policy.POLICY, "fake-log", policy.PUBLIC)  # the site's table is fail-closed
    _local_log.declare(1, 2)
    output = run("verify", "--state", str(tmp_path / "local.json"))
    assert "verified the local log: 2 entries" in output
    assert _local_log.requests[0] == "/log/key"


@pytest.mark.parametrize(
    "allowed", [["registry.example.org"], ["*"], [".example.org"], ["[::1]", "localhost"]]
)
def test_the_local_audit_uses_a_host_the_installation_accepts(allowed):
    assert validate_host(local_host(allowed), allowed)
