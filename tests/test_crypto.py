"""lib.crypto: sealed values, the blind index, keyrings and sealed uploads."""

from __future__ import annotations

import base64
import io
import json
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonebank.lib.crypto import (
    CHUNK,
    DecryptionError,
    KeyError_,
    Keyring,
    open_stream,
    seal_stream,
)

RING = Keyring.generate()


@settings(max_examples=200, deadline=None)
@given(text=st.text(), column=st.sampled_from(["contact.phone", "contact.name", "x"]))
def test_what_is_sealed_opens_again_under_the_same_column(text, column):
    token = RING.encrypt(text, column)
    assert token.startswith(RING.current + "$")
    assert Keyring.key_id(token) == RING.current
    assert RING.decrypt(token, column) == text


def test_the_same_value_seals_differently_each_time():
    assert RING.encrypt("13800138000", "contact.phone") != RING.encrypt(
        "13800138000", "contact.phone"
    )


def test_a_value_moved_to_another_column_does_not_open():
    token = RING.encrypt("+8613800138000", "contact.phone")
    with pytest.raises(DecryptionError, match=r"contact\.name"):
        RING.decrypt(token, "contact.name")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_tampered_value_does_not_open(position):
    token = RING.encrypt("+8613800138000", "contact.phone")
    kid, _, body = token.partition("$")
    blob = bytearray(base64.b64decode(body))
    blob[position] ^= 1
    with pytest.raises(DecryptionError):
        RING.decrypt(f"{kid}${base64.b64encode(bytes(blob)).decode()}", "contact.phone")


@pytest.mark.parametrize("token", ["", "plain text", "k1$not base64!", "k1$", "k1$AAAA"])
def test_what_was_never_sealed_does_not_open(token):
    with pytest.raises(DecryptionError):
        RING.decrypt(token, "contact.phone")


def test_a_value_sealed_under_a_key_we_do_not_hold_does_not_open():
    other = Keyring.generate().with_new_key()  # current key "k2", which RING lacks
    with pytest.raises(DecryptionError, match="'k2'"):
        RING.decrypt(other.encrypt("x", "c"), "c")
    same_id = Keyring.generate()  # also "k1", but a different key
    with pytest.raises(DecryptionError):
        RING.decrypt(same_id.encrypt("x", "c"), "c")


def test_after_rotation_new_values_use_the_new_key_and_old_values_still_open():
    old = RING.encrypt("张三", "contact.name")
    rotated = RING.with_new_key()
    assert rotated.current == "k2"
    assert set(rotated.data_keys) == {"k1", "k2"}
    assert rotated.encrypt("李四", "contact.name").startswith("k2$")
    assert rotated.decrypt(old, "contact.name") == "张三"
    assert rotated.with_new_key().current == "k3"


def test_rotation_works_with_key_ids_of_any_name():
    ring = Keyring(secrets.token_bytes(32), {"main": secrets.token_bytes(32)}, "main")
    rotated = ring.with_new_key()
    assert rotated.current == "k1"
    assert rotated.decrypt(ring.encrypt("x", "c"), "c") == "x"


def test_dropping_keys_keeps_the_current_one():
    rotated = RING.with_new_key()
    assert set(rotated.without_keys_except(set()).data_keys) == {"k2"}
    assert set(rotated.without_keys_except({"k1"}).data_keys) == {"k1", "k2"}


def test_the_blind_index_is_deterministic_and_depends_on_the_key():
    assert RING.blind_index("+8613800138000") == RING.blind_index("+8613800138000")
    assert RING.blind_index("+8613800138000") != RING.blind_index("+8613800138001")
    assert RING.blind_index("+8613800138000") != Keyring.generate().blind_index("+8613800138000")
    assert len(RING.blind_index("+8613800138000")) == 32


def test_the_blind_index_survives_rotation():
    assert RING.with_new_key().blind_index("+8613800138000") == RING.blind_index("+8613800138000")


def test_keyed_hashes_differ_by_purpose_and_from_the_blind_index():
    a = RING.keyed_hash("1.2.3.4", "login")
    assert a == RING.keyed_hash("1.2.3.4", "login")
    assert a != RING.keyed_hash("1.2.3.4", "receipt")
    assert a != RING.blind_index("1.2.3.4").hex()


def test_a_keyring_survives_dumps_and_loads():
    ring = RING.with_new_key()
    again = Keyring.loads(ring.dumps())
    assert (again.index_key, again.data_keys, again.current) == (
        ring.index_key,
        ring.data_keys,
        ring.current,
    )
    assert again.decrypt(ring.encrypt("x", "c"), "c") == "x"


def _ring_json(**changes) -> str:
    raw = json.loads(RING.dumps())
    raw.update(changes)
    return json.dumps(raw)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{not json",
        "null",
        "[]",
        '"k1"',
        _ring_json(version=2),
        _ring_json(current="k9"),
        _ring_json(index="bm90IGJhc2U2NA=="),  # base64 of 12 bytes: too short
        _ring_json(index="***"),
        _ring_json(data=[]),
        _ring_json(data={"k1": "AAAA"}),  # 3 bytes, not 32
        _ring_json(data={"k-1": base64.b64encode(bytes(32)).decode()}, current="k-1"),
        _ring_json(data={"k1": 5}),
        json.dumps({"version": 1}),
    ],
    # Named by hand: the random keys must not reach test ids, which xdist workers compare.
    ids=[
        "empty",
        "not-json",
        "null",
        "list",
        "string",
        "version-2",
        "current-missing",
        "index-too-short",
        "index-not-base64",
        "data-a-list",
        "data-key-too-short",
        "key-id-not-alnum",
        "data-key-not-text",
        "only-a-version",
    ],
)
def test_a_bad_keyring_gives_a_key_error(text):
    with pytest.raises(KeyError_):
        Keyring.loads(text)


# -- sealed uploads -------------------------------------------------------------------------


def _seal(data: bytes, ring: Keyring = RING, file_id: str = "upload") -> bytes:
    out = io.BytesIO()
    assert seal_stream(ring, io.BytesIO(data), out, file_id) == len(data)
    return out.getvalue()


def _open(sealed: bytes, ring: Keyring = RING, file_id: str = "upload") -> bytes:
    return b"".join(open_stream(ring, io.BytesIO(sealed), file_id))


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    """Split a sealed stream into its header and its chunks (each with length and nonce)."""
    header_len = 7 + sealed[6]
    pos, chunks = header_len, []
    while pos < len(sealed):
        size = int.from_bytes(sealed[pos : pos + 4], "big")
        end = pos + 4 + 12 + size
        chunks.append(sealed[pos:end])
        pos = end
    return sealed[:header_len], chunks


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK], ids=lambda n: f"{n}B"
)
def test_a_sealed_upload_opens_to_the_same_bytes(size):
    data = secrets.token_bytes(size)
    sealed = _seal(data)
    # A random byte or two turns up in any ciphertext by chance; 16 bytes never do.
    assert data[:64] not in sealed or size < 16
    assert _open(sealed) == data
    _header, chunks = _chunks(sealed)
    assert len(chunks) == max(1, -(-size // CHUNK))


def test_a_sealed_upload_opens_under_a_rotated_keyring():
    sealed = _seal(b"phone\n13800138000\n")
    assert _open(sealed, RING.with_new_key()) == b"phone\n13800138000\n"


def test_a_sealed_upload_does_not_open_under_another_file_id_or_keyring():
    sealed = _seal(b"phone\n13800138000\n")
    with pytest.raises(DecryptionError):
        _open(sealed, file_id="another")
    with pytest.raises(DecryptionError):
        _open(sealed, Keyring.generate())
    with pytest.raises(DecryptionError, match="not loaded"):
        _open(sealed, Keyring.generate().with_new_key().without_keys_except(set()))


def test_a_truncated_upload_is_detected_wherever_it_is_cut():
    data = b"phone,name\n13800138000,x\n" * 4
    sealed = _seal(data)
    for cut in range(len(sealed)):
        with pytest.raises(DecryptionError):
            _open(sealed[:cut])


def test_dropping_the_last_chunks_is_detected():
    header, chunks = _chunks(_seal(secrets.token_bytes(3 * CHUNK)))
    for keep in (1, 2):
        with pytest.raises(DecryptionError, match="truncated"):
            _open(header + b"".join(chunks[:keep]))


def test_reordered_chunks_are_detected():
    header, (first, second, third) = _chunks(_seal(secrets.token_bytes(3 * CHUNK)))
    for order in ((second, first, third), (first, third, second), (first, first, third)):
        with pytest.raises(DecryptionError, match="does not open"):
            _open(header + b"".join(order))


def test_a_flipped_bit_anywhere_is_detected():
    sealed = _seal(b"phone,name\n13800138000,x\n" * 4)
    for i in range(len(sealed)):
        for bit in (0x01, 0x80):
            tampered = bytearray(sealed)
            tampered[i] ^= bit
            with pytest.raises(DecryptionError):
                _open(bytes(tampered))


def test_what_is_not_a_sealed_upload_does_not_open():
    for junk in (b"", b"phone\n13800138000\n", b"PBENC1"):
        with pytest.raises(DecryptionError):
            _open(junk)


def test_the_blind_index_is_hmac_sha256_of_the_value_under_the_index_key():
    import hashlib
    import hmac

    for value in ["+8613800138000", "", "张三"]:
        expected = hmac.new(RING.index_key, value.encode(), hashlib.sha256).digest()
        assert RING.blind_index(value) == expected


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(), max_size=20))
def test_values_sealed_together_each_open_alone_with_their_own_nonce(texts):
    tokens = RING.encrypt_many(texts, "contact.phone")
    assert [RING.decrypt(t, "contact.phone") for t in tokens] == texts
    assert all(t.startswith(RING.current + "$") for t in tokens)
    nonces = [base64.b64decode(t.partition("$")[2])[:12] for t in tokens]
    assert len(set(nonces)) == len(nonces)
    for t in tokens:
        with pytest.raises(DecryptionError):
            RING.decrypt(t, "contact.details")  # the column is bound, as with encrypt
