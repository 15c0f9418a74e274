"""Rotating the log's signing key: the key record, the command, and auditors following it.

The new key is announced in the log itself: a key record signed by the old key, sealed in
a checkpoint signed by the old key (and the new). An auditor that trusted the old key
follows that record and nothing else. Part one runs the real installation end to end;
part two breaks a log in memory (tests/test_tlog_audit.py's FakeLog) in each way a key
change can be forged.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from test_tlog_audit import DAY, ORIGIN, FakeLog, declaration, fails, raw_leaf, withdrawal

from phonebank.audit.models import LogEntry
from phonebank.registry import services
from phonebank.registry.models import Declaration, Source
from phonebank.tlog import keyfile, note, records
from phonebank.tlog import selectors as log
from phonebank.tlog import services as log_services
from phonebank.tlog.audit import audit
from phonebank.tlog.models import LogKey, Tile
from phonebank.tlog.records import Tally

ORGS = {"party", "league", "pioneers"}


def key_id(signer: note.Signer | note.Verifier) -> str:
    return f"{signer.name}+{signer.key_id:08x}"


def key_re(signer: note.Signer | note.Verifier) -> str:
    """key_id, for a pattern."""
    return re.escape(key_id(signer))


# -- 1. the key record ----------------------------------------------------------------------


def key_record(old: note.Signer, new: note.Signer | str, date=DAY) -> bytes:
    vkey = new if isinstance(new, str) else new.vkey
    return records.encode_key_change(signer=old, key=vkey, date=date)


def test_a_key_record_is_a_canonical_leaf_and_a_signed_note_by_the_old_key():
    old, new = note.generate_signer(ORIGIN), note.generate_signer(ORIGIN)
    data = key_record(old, new)
    record = records.decode(data)
    assert set(record) == {"v", "type", "previous", "key", "date", "signature"}
    assert (record["type"], record["previous"], record["key"]) == ("key", old.vkey, new.vkey)
    assert records.encode(record) == data
    # Any signed-note implementation opens it with the old key, and only with it.
    signed = records.key_change_note(record)
    opened = note.open(signed, [old.verifier()])
    assert opened.text == f"{records.KEY_CHANGE_HEADER}\n{old.vkey}\n{new.vkey}\n"
    with pytest.raises(note.UnverifiedNoteError):
        note.open(signed, [new.verifier()])


def _resigned(record: dict, signer: note.Signer) -> dict:
    text = records.key_change_text(record["previous"], record["key"])
    line = note.sign(text, signer)[len(text) + 1 :]
    return {**record, "signature": line.rstrip("\n").rpartition(" ")[2]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("signed by the new key", "not signed by the key it replaces"),
        ("another name", "named 'elsewhere.example/log', not"),
        ("the same key", "key ID of the key it replaces"),
        ("upper-case key ID", "canonical form"),
        ("extra field", "unexpected keys"),
        ("bad date", "calendar date"),
    ],
)
def test_a_forged_or_malformed_key_record_is_not_a_record(change, message):
    old, new = note.generate_signer(ORIGIN), note.generate_signer(ORIGIN)
    record = records.decode(key_record(old, new))
    if change == "signed by the new key":
        record = _resigned(record, new)
    elif change == "another name":
        other = note.generate_signer("elsewhere.example/log")
        record = _resigned({**record, "key": other.vkey}, old)
    elif change == "the same key":
        record = _resigned({**record, "key": old.vkey}, old)
    elif change == "upper-case key ID":
        name, hex8, material = new.vkey.split("+", 2)
        record = _resigned({**record, "key": f"{name}+{hex8.upper()}+{material}"}, old)
    elif change == "extra field":
        record = {**record, "note": "hello"}
    else:
        record = {**record, "date": "2025-02-30"}
    with pytest.raises(ValueError, match=message):
        records.decode(raw_leaf(record))


def test_a_key_record_counts_in_no_figure_and_must_be_signed_by_the_key_in_force():
    k1, k2, k3 = (note.generate_signer(ORIGIN) for _ in range(3))
    tally = Tally()
    for leaf in (declaration(1), key_record(k1, k2), declaration(2), withdrawal(1)):
        tally.add(records.decode(leaf))
    assert tally.as_dict() == {
        "declarations": 2,
        "withdrawals": 1,
        "active": 1,
        "organisations": {"party": 1},
        "provinces": {"GD": 1},
    }
    assert tally.size == 4 and tally.receipts[declaration_receipt(2)].index == 2
    assert tally.key == k2.vkey
    assert [(c.index, c.previous, c.key) for c in tally.key_changes] == [(1, k1.vkey, k2.vkey)]
    # A second hand-over from k1 (a replay, or a fork of the key chain) breaks the rules.
    with pytest.raises(
        ValueError, match=f"signed by {key_re(k1)}, but the log's key .*{key_re(k2)}"
    ):
        tally.add(records.decode(key_record(k1, k3)))
    tally.add(records.decode(key_record(k2, k3)))
    assert tally.key == k3.vkey


def declaration_receipt(n: int) -> str:
    return records.decode(declaration(n))["receipt"]


# -- 2. the installation, end to end --------------------------------------------------------


@pytest.fixture
def key_file(settings) -> Path:
    """The log's signing key in a generated file of this test's PHONEBANK_HOME."""
    path = Path(settings.PHONEBANK_HOME) / "log-signing.key"
    signer = note.generate_signer(log_services.log_signer().name)
    keyfile.write_private(path, signer.skey)
    settings.PHONEBANK_LOG_KEY = signer.skey
    settings.PHONEBANK_LOG_KEY_SOURCE = str(path)
    return path


def declare(n: int, orgs=("party",), province="GD"):
    return services.declaration_record(
        alias=f"kite {n}",
        organisations=list(orgs),
        allowed=ORGS,
        source=Source.PHONE,
        consent=True,
        province=province,
    )


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("registry", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def stats(client) -> dict:
    return client.get("/registry/stats.json").json()


def served_key(client) -> str:
    return client.get("/log/key").content.decode().strip()


def test_rotation_end_to_end_and_an_auditor_from_before_follows_it(db, client, key_file, tmp_path):
    old = log_services.log_signer()
    state = tmp_path / "audit.json"
    for n in range(3):
        declare(n, orgs=("party", "league") if n else ("party",))
    services.registry_publish()
    run("verify", "--state", str(state))  # the auditor pins the old key
    before = stats(client)

    output = run("rotate-key")
    new = log_services.log_signer()
    assert new.vkey != old.vkey and new.name == old.name
    assert f"rotated the log's signing key: {key_id(old)} -> {key_id(new)}" in output
    assert "announced at leaf 3, in the checkpoint of size 4" in output

    # The key record is leaf 3, sealed in a checkpoint signed by both keys.
    record = records.decode(log.leaf(3))
    assert (record["type"], record["previous"], record["key"]) == ("key", old.vkey, new.vkey)
    handover = log.latest_checkpoint()
    assert handover.size == 4
    assert (
        note.open(handover.note, [old.verifier()]).text
        == note.open(handover.note, [new.verifier()]).text
    )
    # The published figures do not move: a key record is no declaration.
    after = stats(client)
    assert {k: v for k, v in after.items() if k not in ("size", "root")} == {
        k: v for k, v in before.items() if k not in ("size", "root")
    }
    assert (before["size"], after["size"], after["declarations"]) == (3, 4, 3)

    # /log/key serves the new key; /log/keys every key, with where each took over.
    assert served_key(client) == new.vkey
    listed = client.get("/log/keys").json()["keys"]
    assert listed == [
        {"key": old.vkey, "index": None, "size": None, "checkpoint": None},
        {"key": new.vkey, "index": 3, "size": 4, "checkpoint": handover.note},
    ]

    # Later checkpoints are signed by the new key only.
    declare(10, province="BJ")
    declare(11)
    services.registry_publish()
    latest = log.latest_checkpoint()
    assert latest.size == 6
    with pytest.raises(note.UnverifiedNoteError):
        note.open(latest.note, [old.verifier()])
    note.open(latest.note, [new.verifier()])

    # The auditor's state was saved before the rotation: it follows the key record.
    output = run("verify", "--state", str(state))
    assert "verified the local log: 6 entries" in output
    assert f"key       {key_id(new)} (handed over in the log from {key_id(old)} at leaf 3" in output
    assert "5 declarations, 0 withdrawals, 5 active" in output
    saved = json.loads(state.read_text())
    assert saved["key"] == new.vkey
    assert saved["keys"] == [{"index": 3, "previous": old.vkey, "key": new.vkey}]
    assert saved["counts"]["declarations"] == 5
    # ... and from then on trusts the new key alone.
    assert "(pinned)" in run("verify", "--state", str(state))
    # A first run, and a full one, check the whole chain from leaf 0.
    assert "5 declarations" in run("verify", "--state", str(tmp_path / "fresh.json"))
    assert "checked   6 leaves" in run("verify", "--state", str(state), "--full")
    assert "5 declarations" in run(
        "verify", "--state", str(tmp_path / "given.json"), "--key", old.vkey
    )


def test_an_auditor_right_after_the_rotation_follows_it_from_the_checkpoint(
    db, client, key_file, tmp_path
):
    old = log_services.log_signer()
    declare(1)
    services.registry_publish()
    state = tmp_path / "audit.json"
    run("verify", "--state", str(state))
    run("rotate-key")
    output = run("verify", "--state", str(state))
    assert "verified the local log: 2 entries" in output
    assert f"handed over in the log from {key_id(old)} at leaf 1" in output
    assert json.loads(state.read_text())["key"] == log_services.log_signer().vkey
    assert "(pinned)" in run("verify", "--state", str(state))  # the saved hand-over reopens


def test_before_any_rotation_the_key_list_holds_the_one_key(db, client, key_file):
    signer = log_services.log_signer()
    response = client.get("/log/keys")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-cache"
    first = [{"key": signer.vkey, "index": None, "size": None, "checkpoint": None}]
    assert response.json()["keys"] == first
    declare(1)
    services.registry_publish()  # the first checkpoint records the key that signed it
    assert list(LogKey.objects.values_list("vkey", flat=True)) == [signer.vkey]
    assert client.get("/log/keys").json()["keys"] == first
    assert served_key(client) == signer.vkey


def test_the_key_files_after_a_rotation(db, key_file):
    old = log_services.log_signer()
    declare(1)
    services.registry_publish()
    output = run("rotate-key")
    new = log_services.log_signer()
    retired = keyfile.retired_path(key_file, old.key_id)
    assert note.parse_signer_key(key_file.read_text()).vkey == new.vkey
    assert note.parse_signer_key(retired.read_text()).vkey == old.vkey
    for path in (key_file, retired):
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in key_file.parent.iterdir() if "log-signing" in p.name) == [
        "log-signing.key",
        retired.name,
    ]
    assert f"new key   {key_file} (mode 0600)" in output
    assert f"old key   {retired} (retired, mode 0600)" in output


def test_the_rotation_is_audited(db, key_file):
    old = log_services.log_signer()
    run("rotate-key")  # on an empty log too: the key record is leaf 0
    new = log_services.log_signer()
    entry = LogEntry.objects.get(action="keys.log.rotated")
    assert entry.data == {"previous": key_id(old), "key": key_id(new), "index": 0, "size": 1}
    assert (entry.object_type, entry.object_id) == (
        "tlog.checkpoint",
        str(log.latest_checkpoint().pk),
    )
    assert list(LogKey.objects.values_list("vkey", "index")) == [(old.vkey, None), (new.vkey, 0)]


def test_a_worker_started_before_the_rotation_signs_with_the_new_key_file(db, settings, key_file):
    old = log_services.log_signer()
    declare(1)
    services.registry_publish()
    run("rotate-key")
    new = log_services.log_signer()
    settings.PHONEBANK_LOG_KEY = old.skey  # as a process that read its settings before
    declare(2)
    services.registry_publish()  # reads the key file again rather than sign with the old key
    note.open(log.latest_checkpoint().note, [new.verifier()])
    assert log_services.log_signer().vkey == new.vkey


def test_with_the_key_in_the_environment_the_new_key_goes_to_a_new_file(db, settings, tmp_path):
    old = note.generate_signer(log_services.log_signer().name)
    settings.PHONEBANK_LOG_KEY = old.skey
    settings.PHONEBANK_LOG_KEY_SOURCE = "PHONEBANK_LOG_KEY"
    declare(1)
    services.registry_publish()
    with pytest.raises(CommandError, match=r"PHONEBANK_LOG_KEY variable.*--new-key-file"):
        run("rotate-key")
    target = tmp_path / "next.key"
    output = run("rotate-key", "--new-key-file", str(target))
    new = note.parse_signer_key(target.read_text())
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert "Put the contents of the new key file in PHONEBANK_LOG_KEY" in output
    with pytest.raises(CommandError, match="exists: name a new file"):
        run("rotate-key", "--new-key-file", str(target))
    # A server or worker still holding the old key refuses to sign until restarted.
    settings.PHONEBANK_LOG_KEY = old.skey
    declare(2)
    with pytest.raises(log_services.LogRefused, match=f"key in force is {key_re(new)}.*restart"):
        services.registry_publish()
    settings.PHONEBANK_LOG_KEY = new.skey
    assert services.registry_publish().size == 3


def test_an_interrupted_rotation_is_finished_by_running_it_again(db, settings, key_file):
    old = log_services.log_signer()
    declare(1)
    services.registry_publish()
    # Announced in the log, then the process died before switching the files.
    new = note.generate_signer(old.name)
    keyfile.write_private(keyfile.staged_path(key_file), new.skey)
    log_services.log_key_announce(new=new)
    declare(2)
    with pytest.raises(log_services.LogRefused, match="run `phonebank registry rotate-key` again"):
        services.registry_publish()
    assert Declaration.objects.filter(log_index__isnull=True).count() == 1  # waiting
    output = run("rotate-key")
    assert f"finished switching the log's signing key: {key_id(old)} -> {key_id(new)}" in output
    assert note.parse_signer_key(key_file.read_text()).vkey == new.vkey
    assert LogEntry.objects.filter(action="keys.log.switched").count() == 1
    assert services.registry_publish().size == 3


def test_the_signer_still_refuses_an_inconsistent_tree_across_the_rotation(db, key_file):
    declare(1)
    declare(2)
    services.registry_publish()
    tile = Tile.objects.get(level=0, index=0)
    good = bytes(tile.hashes)
    tile.hashes = bytes([good[0] ^ 1]) + good[1:]
    tile.save()
    # Before: the rotation is refused, and nothing changes (no key record, no key file).
    with pytest.raises(CommandError, match=r"rotate-key REFUSED: .*not consistent"):
        run("rotate-key")
    assert log.stored_size() == 2 and LogKey.objects.count() == 1
    assert not keyfile.staged_path(key_file).exists()
    tile.hashes = good
    tile.save()
    run("rotate-key")
    # After: the new key refuses just the same.
    tile.refresh_from_db()
    tile.hashes = bytes([good[0] ^ 1]) + bytes(tile.hashes)[1:]
    tile.save()
    declare(3)
    with pytest.raises(log_services.LogRefused, match="not consistent"):
        services.registry_publish()
    assert log.latest_checkpoint().size == 3


def test_a_key_the_log_was_not_signed_with_refuses_to_sign(db, settings, key_file):
    declare(1)
    services.registry_publish()
    other = note.generate_signer(log_services.log_signer().name)
    settings.PHONEBANK_LOG_KEY = other.skey
    keyfile.write_private(key_file, other.skey)
    declare(2)
    with pytest.raises(log_services.LogRefused, match=r"key in force is .*put the announced key"):
        services.registry_publish()
    with pytest.raises(CommandError, match="REFUSED: the log's key in force is"):
        run("rotate-key")
    # A log older than key records: the first signature after the upgrade checks the key
    # against the last checkpoint before recording it.
    LogKey.objects.all().delete()
    with pytest.raises(log_services.LogRefused, match="not signed by this installation's key"):
        services.registry_publish()


# -- 3. auditors against forged key changes ------------------------------------------------


class RotatingLog(FakeLog):
    """FakeLog with key rotations: `rotate` appends a key record, keeps the hand-over
    checkpoint (signed by the old and the new key) and signs later ones with the new key;
    /log/keys lists them as the server does."""

    def __init__(self, signer: note.Signer | None = None):
        super().__init__(signer)
        self.keys: list[dict] = [
            {"key": self.signer.vkey, "index": None, "size": None, "checkpoint": None}
        ]

    def rotate(self, new: note.Signer | None = None, *, record: bytes | None = None) -> note.Signer:
        old, new = self.signer, new or note.generate_signer(ORIGIN)
        index = self.tree.size
        self.add(record or key_record(old, new))
        handover = note.sign(
            note.checkpoint_text(ORIGIN, self.tree.size, self.tree.root()), old, new
        )
        self.keys.append(
            {"key": new.vkey, "index": index, "size": self.tree.size, "checkpoint": handover}
        )
        self.signer = new
        return new

    def fetch(self, path: str) -> tuple[int, str, bytes]:
        if path == "/log/keys" and path not in self.overrides:
            self.requests.append(path)
            return self.json({"keys": self.keys})
        return super().fetch(path)


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "audit" / "state.json"


@pytest.fixture
def rotated(state) -> tuple[RotatingLog, note.Signer, note.Signer]:
    """A log audited at 3 declarations, then rotated, then 2 more declarations."""
    log = RotatingLog().declare(1, 2, 3)
    audit(log.fetch, state)
    old = log.signer
    new = log.rotate()
    log.declare(4, 5)
    return log, old, new


def test_an_auditor_follows_a_rotation_through_the_key_list(rotated, state):
    log, old, new = rotated
    result = audit(log.fetch, state)
    assert (result.size, result.key, result.new_leaves) == (6, new.vkey, 3)
    assert [(c.index, c.previous, c.key) for c in result.followed] == [(3, old.vkey, new.vkey)]
    assert result.counts["declarations"] == 5
    assert "/log/proof/consistency?first=3&second=4" in log.requests  # to the hand-over
    assert "/log/proof/consistency?first=4&second=6" in log.requests  # and on
    log.requests.clear()
    again = audit(log.fetch, state)
    assert (again.followed, again.key) == ((), new.vkey)
    assert "/log/keys" not in log.requests


def test_an_auditor_follows_several_rotations_and_first_runs_check_the_chain(
    rotated, state, tmp_path
):
    log, old, new = rotated
    newest = log.rotate()
    log.declare(6)
    result = audit(log.fetch, state)
    assert [c.key for c in result.followed] == [new.vkey, newest.vkey]
    assert audit(log.fetch, tmp_path / "fresh.json").key == newest.vkey  # trust on first use
    given = audit(log.fetch, tmp_path / "given.json", key=old.vkey)  # the first key, given
    assert len(given.followed) == 2
    assert audit(log.fetch, state, full=True).new_leaves == 8
    assert audit(log.fetch, state, key=old.vkey).key == newest.vkey  # a key handed over from


def test_a_checkpoint_signed_by_an_unannounced_key_fails_naming_both(state):
    log = RotatingLog().declare(1, 2)
    audit(log.fetch, state)
    old, log.signer = log.signer, note.generate_signer(ORIGIN)
    log.declare(3)
    error = fails(log, state, "the log's key changed since it was pinned")
    assert f"expected {key_id(old)}, the log now serves {key_id(log.signer)}" in str(error)
    assert f"/log/keys shows no hand-over from {key_id(old)}" in str(error)


def test_a_key_record_not_signed_by_the_old_key_fails(state):
    log = RotatingLog().declare(1, 2)
    audit(log.fetch, state)
    old, new = log.signer, note.generate_signer(ORIGIN)
    forged = _resigned(records.decode(key_record(old, new)), new)
    log.rotate(new, record=raw_leaf(forged))
    fails(log, state, f"leaf 2 is not a valid registry record: .*not signed by .*{key_re(old)}")


def test_a_key_record_from_a_key_not_in_force_fails(state):
    log = RotatingLog().declare(1, 2)
    audit(log.fetch, state)
    old, stranger, new = log.signer, note.generate_signer(ORIGIN), note.generate_signer(ORIGIN)
    log.rotate(new, record=key_record(stranger, new))  # well signed, by the wrong key
    error = fails(log, state, "leaf 2 breaks the registry's rules: a key change signed by")
    assert key_id(stranger) in str(error) and key_id(old) in str(error)


def test_a_hand_over_checkpoint_not_signed_by_the_old_key_fails(rotated, state):
    log, old, new = rotated
    log.keys[1]["checkpoint"] = note.sign(note.checkpoint_text(ORIGIN, 4, log.tree.root(4)), new)
    fails(log, state, f"the hand-over from {key_re(old)} to {key_re(new)}: the signature does not")


def test_a_hand_over_that_announces_no_key_fails(state):
    log = RotatingLog().declare(1, 2)
    audit(log.fetch, state)
    old, new = log.signer, note.generate_signer(ORIGIN)
    log.declare(3)
    log.keys.append(  # an honest old checkpoint, passed off as the hand-over
        {"key": new.vkey, "index": 2, "size": 3, "checkpoint": log.signed(3, signer=old)}
    )
    log.signer = new
    log.declare(4)
    fails(
        log, state, f"does not include a key record at leaf 2 from {key_re(old)} to {key_re(new)}"
    )


def test_a_log_that_signs_with_a_key_it_retired_fails(rotated, state):
    log, old, new = rotated
    audit(log.fetch, state)
    log.signer = old  # back to the old key, after announcing the new one
    log.declare(6)
    error = fails(log, state, "the log's key changed since it was pinned")
    assert key_id(old) in str(error) and key_id(new) in str(error)
    log.signer = new  # serves the new key, but the checkpoint is signed by the old alone
    log.checkpoint_note = log.signed(signer=old)
    fails(log, state, "no signature on the note is by a known key")


def test_an_old_checkpoint_signed_by_the_old_key_after_the_record_fails(state, tmp_path):
    log = RotatingLog().declare(1)
    old = log.signer
    new = log.rotate()
    log.declare(2)
    # The old key signs the tree after its hand-over, and the log still serves it: the
    # record says the new key is in force, so /log/key disagrees.
    log.signer = old
    error = fails(log, tmp_path / "first.json", f"serves {key_re(old)}")
    assert key_id(new) in str(error)


def test_a_state_whose_key_is_not_the_last_announced_is_damaged(rotated, state):
    log, _old, _new = rotated
    audit(log.fetch, state)
    saved = json.loads(state.read_text())
    saved["keys"][-1]["key"] = note.generate_signer(ORIGIN).vkey
    state.write_text(json.dumps(saved))
    fails(log, state, "state file .* is damaged .*last key record announced")


def test_the_key_list_is_checked(rotated, state):
    log, old, new = rotated
    log.overrides["/log/keys"] = FakeLog.json({"keys": [{"key": "nonsense"}]})
    error = fails(log, state, "GET /log/keys: key 0 is not a verifier key")
    assert key_id(old) in str(error) and key_id(new) in str(error)


def test_the_browser_gets_the_key_that_signs_the_checkpoint_it_is_shown(db, client, key_file):
    _d, code = declare(1)
    services.registry_publish()
    run("rotate-key")
    response = client.post("/registry/check/", {"code": code})
    assert response.status_code == 200
    proof = json.loads(response.context["proof_json"])
    assert proof["key"] == log_services.log_signer().vkey
    note.open(proof["checkpoint"], [note.parse_verifier_key(proof["key"])])
    assert response.context["found"].verified
    assert base64.b64decode(proof["leaf"]) == log.leaf(0)
