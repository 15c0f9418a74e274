"""Field encryption and the blind index, kept apart from Django so they can be tested plainly.

Values are sealed with AES-256-GCM. Each ciphertext carries the id of the key that sealed it
(``kid$base64(nonce || ciphertext)``) so keys can rotate: new values use the current key, old
values stay readable until ``phonebank keys rotate`` re-seals them. The column name is bound
as associated data, so a ciphertext cannot be moved from one column to another unnoticed.

The blind index is HMAC-SHA256 under its own key. It does not rotate with the data keys:
de-duplication across the whole installation depends on it staying stable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEYRING_VERSION = 1
_NONCE = 12


class KeyError_(Exception):
    """A keyring that cannot be read, or a value sealed under a key we do not hold."""


class DecryptionError(Exception):
    """A ciphertext that does not open: wrong key, wrong column, or tampering."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class Keyring:
    """Data keys by id (one of them current) and the blind-index key."""

    index_key: bytes
    data_keys: dict[str, bytes]
    current: str
    _aead: dict[str, AESGCM] = field(default_factory=dict, repr=False)
    # HMAC keyed once; blind_index copies it (the key schedule is then not redone per value).
    _index_mac: hmac.HMAC | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.index_key) < 32:
            raise KeyError_("the blind-index key must be at least 32 bytes")
        self._index_mac = hmac.new(self.index_key, digestmod=hashlib.sha256)
        if self.current not in self.data_keys:
            raise KeyError_(f"the current data key {self.current!r} is not in the keyring")
        for kid, key in self.data_keys.items():
            if len(key) != 32:
                raise KeyError_(f"data key {kid!r} must be 32 bytes, not {len(key)}")
            if not kid.isalnum():
                raise KeyError_(f"data key id {kid!r} must be letters and digits")
            self._aead[kid] = AESGCM(key)

    # -- construction and storage -------------------------------------------------------

    @classmethod
    def generate(cls) -> Keyring:
        return cls(
            index_key=secrets.token_bytes(32),
            data_keys={"k1": secrets.token_bytes(32)},
            current="k1",
        )

    @classmethod
    def loads(cls, text: str) -> Keyring:
        try:
            raw = json.loads(text)
            if raw.get("version") != KEYRING_VERSION:
                raise KeyError_(f"unknown keyring version {raw.get('version')!r}")
            return cls(
                index_key=base64.b64decode(raw["index"], validate=True),
                data_keys={k: base64.b64decode(v, validate=True) for k, v in raw["data"].items()},
                current=raw["current"],
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise KeyError_(f"the data keyring is not valid: {exc}") from exc

    def dumps(self) -> str:
        return json.dumps(
            {
                "version": KEYRING_VERSION,
                "current": self.current,
                "index": _b64(self.index_key),
                "data": {k: _b64(v) for k, v in self.data_keys.items()},
            },
            indent=2,
        )

    def with_new_key(self) -> Keyring:
        """A keyring with a fresh current data key; the old ones stay for reading."""
        # Ids need not be k<n> (a keyring may come from PHONEBANK_DATA_KEY_FILE).
        n = 1 + max((int(k[1:]) for k in self.data_keys if k[1:].isdigit()), default=0)
        kid = f"k{n}"
        return Keyring(self.index_key, {**self.data_keys, kid: secrets.token_bytes(32)}, kid)

    def without_keys_except(self, keep: set[str]) -> Keyring:
        keep = keep | {self.current}
        return Keyring(
            self.index_key, {k: v for k, v in self.data_keys.items() if k in keep}, self.current
        )

    # -- use ----------------------------------------------------------------------------

    def encrypt(self, plaintext: str, column: str) -> str:
        return self.encrypt_many([plaintext], column)[0]

    def encrypt_many(self, plaintexts: list[str], column: str) -> list[str]:
        """``[encrypt(p, column) for p in plaintexts]``, with one random nonce per value
        drawn from a single ``os.urandom`` call (one system call per batch, not per value).
        An empty plaintext is sealed too, as ``encrypt`` does."""
        n = len(plaintexts)
        nonces = os.urandom(_NONCE * n)
        seal = self._aead[self.current].encrypt
        ad = column.encode()
        prefix = self.current + "$"
        b64 = base64.b64encode
        out = []
        for i in range(n):
            nonce = nonces[i * _NONCE : (i + 1) * _NONCE]
            out.append(prefix + b64(nonce + seal(nonce, plaintexts[i].encode(), ad)).decode())
        return out

    def decrypt(self, token: str, column: str) -> str:
        kid, sep, body = token.partition("$")
        if not sep:
            raise DecryptionError(f"{column}: not an encrypted value")
        aead = self._aead.get(kid)
        if aead is None:
            raise DecryptionError(f"{column}: sealed under key {kid!r}, which is not loaded")
        try:
            blob = base64.b64decode(body, validate=True)
            return aead.decrypt(blob[:_NONCE], blob[_NONCE:], column.encode()).decode()
        except Exception as exc:  # InvalidTag, binascii.Error, UnicodeDecodeError
            raise DecryptionError(f"{column}: the value does not open under key {kid!r}") from exc

    @staticmethod
    def key_id(token: str) -> str:
        return token.partition("$")[0]

    def blind_index(self, value: str) -> bytes:
        """HMAC-SHA256 of the value: 32 bytes, stored as binary (half the index of hex)."""
        mac = self._index_mac.copy()  # type: ignore[union-attr]  # set in __post_init__
        mac.update(value.encode())
        return mac.digest()

    def keyed_hash(self, value: str, purpose: str) -> str:
        """A keyed hash for values we must match but never read back (IP addresses, receipts)."""
        key = hmac.new(self.index_key, purpose.encode(), hashlib.sha256).digest()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


CHUNK = 1 << 20
_MAGIC = b"PBENC1"


def seal_stream(keyring: Keyring, src, dst, file_id: str) -> int:
    """Copy ``src`` to ``dst`` as AES-GCM chunks; returns the plaintext size.

    Layout: magic, key id (1 byte length + ascii), then chunks of (4-byte length, nonce,
    ciphertext). Each chunk's associated data binds the file id, its index and whether it is
    the last, so chunks can be neither reordered nor dropped from the end.
    """
    writer = SealedWriter(keyring, dst, file_id)
    while chunk := src.read(CHUNK):
        writer.write(chunk)
    return writer.finish()


class SealedWriter(io.RawIOBase):
    """A write-only stream that seals what is written to it, in the layout of
    ``seal_stream``, holding at most one chunk of plaintext.

    ``finish()`` seals the last chunk; a writer closed (or abandoned) without it leaves a
    file that ``open_stream`` refuses as truncated, so a half-written file never opens.
    ``tell()`` counts plaintext bytes (zipfile needs it to write to an unseekable stream).
    """

    def __init__(self, keyring: Keyring, dst, file_id: str):
        super().__init__()
        kid = keyring.current.encode()
        self._aead = keyring._aead[keyring.current]
        self._dst, self._file_id = dst, file_id
        self._buf = bytearray()
        self._index = self._total = 0
        self._finished = False
        dst.write(_MAGIC + bytes([len(kid)]) + kid)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._total + len(self._buf)

    def write(self, data) -> int:
        if self._finished or self.closed:
            raise ValueError("write to a finished sealed file")
        self._buf += data
        # A full chunk is sealed only once more data follows: the last chunk is never empty
        # unless the whole file is (as seal_stream writes it).
        while len(self._buf) > CHUNK:
            self._seal(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        nonce = os.urandom(_NONCE)
        ad = f"{self._file_id}:{self._index}:{int(last)}".encode()
        sealed = self._aead.encrypt(nonce, chunk, ad)
        self._dst.write(len(sealed).to_bytes(4, "big") + nonce + sealed)
        self._total += len(chunk)
        self._index += 1

    def finish(self) -> int:
        """Seal the last chunk; returns the plaintext size."""
        if not self._finished:
            self._seal(bytes(self._buf), last=True)
            self._buf.clear()
            self._finished = True
        return self._total


def open_stream(keyring: Keyring, src, file_id: str):
    """Yield the plaintext chunks of a file written by ``seal_stream``."""
    head = src.read(len(_MAGIC) + 1)
    if head[: len(_MAGIC)] != _MAGIC:
        raise DecryptionError("not a sealed upload")
    try:
        kid = src.read(head[-1]).decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("not a sealed upload") from None
    aead = keyring._aead.get(kid)
    if aead is None:
        raise DecryptionError(f"upload sealed under key {kid!r}, which is not loaded")
    index = 0
    while True:
        size_b = src.read(4)
        if len(size_b) != 4:
            raise DecryptionError("sealed upload is truncated")
        size = int.from_bytes(size_b, "big")
        if size > CHUNK + 16:  # a chunk and its tag; anything larger is corruption
            raise DecryptionError(f"sealed upload chunk {index} is too large")
        nonce = src.read(_NONCE)
        sealed = src.read(size)
        if len(nonce) != _NONCE or len(sealed) != size:  # a length field that lies is tampering
            raise DecryptionError("sealed upload is truncated")
        for last in (0, 1):
            try:
                plain = aead.decrypt(nonce, sealed, f"{file_id}:{index}:{last}".encode())
                break
            except InvalidTag:  # the other flag may open it; both failing raises below
                continue
        else:
            raise DecryptionError(f"sealed upload chunk {index} does not open")
        yield plain
        if last:
            return
        index += 1
