"""tlog.note: C2SP signed notes with Ed25519 keys, and tlog-checkpoint bodies.

Published vectors are read from ../shared/vectors (or $PHONEBANK_VECTORS); the tests that
need them skip when that folder is absent.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonebank.tlog import note
from phonebank.tlog.merkle import leaf_hash
from phonebank.tlog.note import (
    Checkpoint,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    NoteError,
    UnverifiedNoteError,
    checkpoint_text,
    generate_signer,
    parse_checkpoint,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
)

VECTORS = Path(
    os.environ.get(
        "PHONEBANK_VECTORS", Path(__file__).resolve().parents[1] / ".." / "shared" / "vectors"
    )
)
MISSING = f"test vectors folder {VECTORS} is missing"

SIGNER = generate_signer("log.example.org/phonebank")
OTHER = generate_signer("witness.example.net/w1")
ROOT = leaf_hash(b"a root")
TEXT = checkpoint_text("log.example.org/phonebank", 42, ROOT)


def _vectors(name: str) -> dict:
    path = VECTORS / name
    if not path.is_file():
        pytest.skip(MISSING)
    return json.loads(path.read_text())


def _note_vectors() -> list[dict]:
    return _vectors("signed_note_vectors.json")["vectors"]


# --- published vectors -------------------------------------------------------------------


def test_signing_with_the_published_signer_key_gives_the_published_note_byte_for_byte():
    with_skey = [v for v in _note_vectors() if v["skey"]]
    assert with_skey
    for vector in with_skey:
        signer = parse_signer_key(vector["skey"])
        assert signer.skey == vector["skey"]
        assert signer.vkey == vector["vkey"]
        text = vector["signed_note"].rsplit("\n\n", 1)[0] + "\n"
        assert note.sign(text, signer).encode() == vector["signed_note"].encode()


def test_every_published_note_opens_with_its_verifier_key():
    for vector in _note_vectors():
        verifier = parse_verifier_key(vector["vkey"])
        assert verifier.vkey == vector["vkey"]
        opened = note.open(vector["signed_note"], [verifier])
        assert vector["signed_note"].startswith(opened.text + "\n\u2014 ")
        assert [(s.name, s.key_id) for s in opened.signatures] == [(verifier.name, verifier.key_id)]
        # The same bytes, as they come off the network.
        assert note.open(vector["signed_note"].encode(), [verifier]) == opened


def test_a_published_note_does_not_open_with_another_published_key():
    vectors = _note_vectors()
    keys = [parse_verifier_key(v["vkey"]) for v in vectors]
    with pytest.raises(UnverifiedNoteError):
        note.open(vectors[0]["signed_note"], keys[1:])


def test_the_go_tree_note_and_the_c2sp_checkpoint_example_parse():
    misc = _vectors("misc_vectors.json")
    go = misc["go_sumdb_tlog_tree_note"]
    root = base64.b64decode(go["record_hash_b64"])
    text = checkpoint_text("go.sum database tree", go["tree_size"], root)
    assert text == go["formatted_tree_note_text"]
    assert parse_checkpoint(text) == Checkpoint("go.sum database tree", go["tree_size"], root)

    text, signatures = parse_note(misc["c2sp_tlog_checkpoint_example"]["note"])
    checkpoint = parse_checkpoint(text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert (
        base64.b64encode(checkpoint.root).decode() == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    )
    assert [s.name for s in signatures] == ["example.com/behind-the-sofa"]
    assert signatures[0].line == misc["c2sp_tlog_checkpoint_example"]["note"].split("\n\n")[1]


# --- keys --------------------------------------------------------------------------------


def test_generated_keys_round_trip_through_their_strings():
    assert SIGNER.skey.startswith("PRIVATE+KEY+log.example.org/phonebank+")
    again = parse_signer_key(SIGNER.skey)
    assert (again.name, again.key_id, again.public_key) == (
        SIGNER.name,
        SIGNER.key_id,
        SIGNER.public_key,
    )
    verifier = parse_verifier_key(SIGNER.vkey)
    assert verifier == SIGNER.verifier()
    assert verifier.vkey == SIGNER.vkey
    name, hex8, material = SIGNER.vkey.split("+", 2)  # base64 may contain "+"
    assert name == SIGNER.name
    assert hex8 == f"{SIGNER.key_id:08x}"
    assert base64.b64decode(material) == b"\x01" + SIGNER.public_key


def test_a_signer_never_shows_its_seed():
    assert SIGNER.skey.split("+")[-1] not in repr(SIGNER)


@settings(max_examples=50, deadline=None)
@given(
    name=st.text(
        st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]), min_size=1
    ).filter(lambda s: "+" not in s and not any(c.isspace() for c in s))
)
def test_any_valid_name_round_trips(name):
    signer = generate_signer(name)
    assert parse_signer_key(signer.skey).vkey == signer.vkey == parse_verifier_key(signer.vkey).vkey


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nbsp\u00a0here", "line\nbreak"])
def test_invalid_key_names_are_refused(name):
    with pytest.raises(KeyFormatError):
        generate_signer(name)


def _swap(key: str, position: int, value: str) -> str:
    parts = key.split("+")
    parts[position] = value
    return "+".join(parts)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda k: _swap(k, 1, "c74f20a4"), id="key ID of another key"),
        pytest.param(lambda k: _swap(k, 1, "c74f20a"), id="7 hex digits"),
        pytest.param(lambda k: _swap(k, 1, "+c74f20a"), id="plus in key ID"),
        pytest.param(lambda k: _swap(k, 0, "Peter Neumann"), id="space in name"),
        pytest.param(lambda k: _swap(k, 0, ""), id="empty name"),
        pytest.param(
            lambda k: _swap(k, 2, k.split("+")[2][:-4]),
            id="short key",
        ),
        pytest.param(lambda k: _swap(k, 2, "!" + k.split("+")[2][1:]), id="not base64"),
        pytest.param(
            lambda k: _swap(k, 2, base64.b64encode(b"\x02" + bytes(32)).decode()), id="not Ed25519"
        ),
        pytest.param(lambda k: k.rsplit("+", 1)[0], id="no key material"),
    ],
)
def test_malformed_verifier_keys_are_refused(mutate):
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    parse_verifier_key(vkey)
    with pytest.raises(KeyFormatError):
        parse_verifier_key(mutate(vkey))


@pytest.mark.parametrize(
    "skey",
    [
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEX+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PRIVATE+KEY+Peter+Neumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDF",
    ],
)
def test_malformed_signer_keys_are_refused(skey):
    parse_signer_key(
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    )
    with pytest.raises(KeyFormatError):
        parse_signer_key(skey)


# --- notes -------------------------------------------------------------------------------


def test_a_signed_note_opens_and_gives_back_its_text():
    signed = note.sign(TEXT, SIGNER)
    assert signed.startswith(TEXT + "\n\u2014 log.example.org/phonebank ")
    assert signed.endswith("\n")
    opened = note.open(signed, [SIGNER.verifier()])
    assert opened.text == TEXT
    assert [s.name for s in opened.signatures] == [SIGNER.name]


def test_signatures_by_unknown_keys_are_ignored_but_one_known_key_must_sign():
    cosigned = note.sign(TEXT, OTHER, SIGNER)
    opened = note.open(cosigned, [SIGNER.verifier()])
    assert [s.name for s in opened.signatures] == [SIGNER.name]
    assert len(note.open(cosigned, [SIGNER.verifier(), OTHER.verifier()]).signatures) == 2
    with pytest.raises(UnverifiedNoteError):
        note.open(note.sign(TEXT, OTHER), [SIGNER.verifier()])
    with pytest.raises(UnverifiedNoteError):
        note.open(cosigned, [])


def test_a_key_sharing_only_the_name_is_unknown_not_wrong():
    impostor = generate_signer(SIGNER.name)
    opened = note.open(note.sign(TEXT, impostor, SIGNER), [SIGNER.verifier()])
    assert [s.key_id for s in opened.signatures] == [SIGNER.key_id]


def test_tampered_text_is_rejected():
    signed = note.sign(TEXT, SIGNER)
    tampered = signed.replace("\n42\n", "\n43\n")
    assert tampered != signed
    with pytest.raises(InvalidSignatureError):
        note.open(tampered, [SIGNER.verifier()])


@settings(max_examples=50, deadline=None)
@given(bit=st.integers(min_value=32, max_value=(4 + 64) * 8 - 1))
def test_a_tampered_signature_is_rejected(bit):
    text, [signature] = parse_note(note.sign(TEXT, SIGNER))
    raw = bytearray(signature.key_id.to_bytes(4, "big") + signature.signature)
    raw[bit // 8] ^= 1 << (bit % 8)
    tampered = text + "\n\u2014 " + SIGNER.name + " " + base64.b64encode(raw).decode() + "\n"
    with pytest.raises(InvalidSignatureError):
        note.open(tampered, [SIGNER.verifier()])


def test_a_bad_signature_by_a_known_key_rejects_the_note_even_beside_a_good_one():
    good = note.sign(TEXT, SIGNER)
    bad = note.sign("other text\n", OTHER).split("\n\n")[1]
    with pytest.raises(InvalidSignatureError):
        note.open(good + bad, [SIGNER.verifier(), OTHER.verifier()])


def test_a_note_signed_with_the_wrong_key_is_rejected():
    with pytest.raises(UnverifiedNoteError):
        note.open(note.sign(TEXT, generate_signer("elsewhere.example")), [SIGNER.verifier()])


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda s: s[:-1], id="no final newline"),
        pytest.param(lambda s: s.replace("\n\n", "\n"), id="no blank line"),
        pytest.param(lambda s: s.replace("\u2014 ", "- "), id="hyphen for em dash"),
        pytest.param(lambda s: s.replace("\u2014 ", "\u2014"), id="no space after the dash"),
        pytest.param(lambda s: s.replace("phonebank ", "phonebank  "), id="two spaces"),
        pytest.param(
            lambda s: s.replace("phonebank ", "phonebank"), id="no space before the signature"
        ),
        pytest.param(lambda s: s.replace("42", "4\r2"), id="control character"),
        pytest.param(lambda s: s.replace("42", "4\x002"), id="NUL"),
        pytest.param(lambda s: s + "\n", id="trailing blank line"),
        pytest.param(lambda s: s + "stray line\n", id="stray line"),
        pytest.param(lambda s: s[: s.rindex(" ") + 1] + "\n", id="empty signature"),
        pytest.param(
            lambda s: s[: s.rindex(" ") + 1] + "AAAAAA==\n", id="shorter than key ID + 1 byte"
        ),
        pytest.param(lambda s: s[: s.rindex(" ") + 1] + "not base64!\n", id="not base64"),
        pytest.param(lambda s: s.replace("=\n", "\n"), id="unpadded base64"),
        pytest.param(lambda s: s.split("\n\n")[0] + "\n\n", id="no signatures"),
        pytest.param(
            lambda s: s + s[s.index("\u2014") :] * note.MAX_SIGNATURES, id="too many signatures"
        ),
    ],
)
def test_malformed_notes_are_rejected(broken):
    signed = note.sign(TEXT, SIGNER)
    assert signed.endswith("=\n")
    with pytest.raises(MalformedNoteError):
        note.open(broken(signed), [SIGNER.verifier()])


def test_over_long_notes_are_rejected_before_anything_else():
    signed = note.sign("x" * 2_000 + "\n", SIGNER)
    assert note.open(signed, [SIGNER.verifier()])
    with pytest.raises(MalformedNoteError, match="longer than"):
        note.open(signed, [SIGNER.verifier()], max_bytes=2_000)
    with pytest.raises(MalformedNoteError, match="longer than"):
        note.open(signed.encode(), [SIGNER.verifier()], max_bytes=2_000)
    with pytest.raises(MalformedNoteError, match="longer than"):
        note.open("y" * (note.MAX_NOTE_BYTES + 1), [SIGNER.verifier()])


def test_notes_that_are_not_utf8_are_rejected():
    signed = note.sign(TEXT, SIGNER).encode()
    with pytest.raises(MalformedNoteError):
        note.open(signed.replace(b"42", b"4\xff2"), [SIGNER.verifier()])
    with pytest.raises(MalformedNoteError):
        note.open(note.sign(TEXT, SIGNER).replace("42", "4\ud8002"), [SIGNER.verifier()])


def test_sixteen_cosignatures_are_accepted():
    witnesses = [generate_signer(f"witness.example/{i}") for i in range(15)]
    signed = note.sign(TEXT, SIGNER, *witnesses)
    opened = note.open(signed, [SIGNER.verifier(), *(w.verifier() for w in witnesses)])
    assert len(opened.signatures) == 16


def test_texts_that_cannot_be_signed_are_refused():
    with pytest.raises(MalformedNoteError):
        note.sign("no final newline", SIGNER)
    with pytest.raises(MalformedNoteError):
        note.sign("a\tb\n", SIGNER)
    with pytest.raises(ValueError):
        note.sign(TEXT)


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.just("\n")).map(
        lambda t: t + "\n"
    )
)
def test_any_text_round_trips_through_a_signed_note(text):
    opened = note.open(note.sign(text, SIGNER), [SIGNER.verifier()])
    assert opened.text == text


# --- checkpoints -------------------------------------------------------------------------


def test_a_checkpoint_round_trips():
    expected = f"log.example.org/phonebank\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert expected == TEXT
    assert parse_checkpoint(TEXT) == Checkpoint("log.example.org/phonebank", 42, ROOT, ())
    with_extensions = checkpoint_text("o", 0, ROOT, ["ext one", "ext two"])
    assert parse_checkpoint(with_extensions) == Checkpoint("o", 0, ROOT, ("ext one", "ext two"))
    opened = note.open(note.sign(TEXT, SIGNER), [SIGNER.verifier()])
    assert parse_checkpoint(opened.text).root == ROOT


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    origin=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1),
)
def test_any_checkpoint_round_trips(size, root, origin):
    assert parse_checkpoint(checkpoint_text(origin, size, root)) == (origin, size, root, ())


ROOT64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "text",
    [
        f"origin\n42\n{ROOT64}",  # no final newline
        "origin\n42\n",  # no root
        f"\n42\n{ROOT64}\n",  # empty origin
        f"origin\n042\n{ROOT64}\n",  # leading zero
        f"origin\n+42\n{ROOT64}\n",
        f"origin\n-1\n{ROOT64}\n",
        f"origin\n4_2\n{ROOT64}\n",
        f"origin\n 42\n{ROOT64}\n",
        f"origin\n\u0664\u0662\n{ROOT64}\n",  # Arabic-Indic digits
        f"origin\n18446744073709551616\n{ROOT64}\n",  # 2**64
        f"origin\n\n{ROOT64}\n",
        f"origin\n42\n{ROOT64[:-1]}\n",  # unpadded
        f"origin\n42\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31 bytes
        f"origin\n42\n{base64.b64encode(ROOT + b'x').decode()}\n",  # 33 bytes
        f"origin\n42\n{base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()}\n",  # URL alphabet
        f"origin\n42\n{ROOT64}\n\n",  # empty extension line
        f"origin\n42\n{ROOT64}\next\n\nmore\n",
        f"origin\r\n42\n{ROOT64}\n",
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("two\nlines", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 2**64, ROOT, ()),
        ("o", True, ROOT, ()),
        ("o", 1, ROOT[:31], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("a\nb",)),
    ],
)
def test_checkpoints_that_cannot_be_written_are_refused(origin, size, root, extensions):
    with pytest.raises(NoteError):
        checkpoint_text(origin, size, root, extensions)
