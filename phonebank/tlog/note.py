"""C2SP signed notes (Ed25519) and tlog-checkpoint bodies.

Pure: no Django. Keys, signatures and their text encodings follow c2sp.org/signed-note and
golang.org/x/mod/sumdb/note, so the log's checkpoints open with Go's `note.Open` and any
other implementation of the spec:

    signer key    PRIVATE+KEY+<name>+<key ID hex8>+base64(0x01 ‖ 32-byte seed)
    verifier key  <name>+<key ID hex8>+base64(0x01 ‖ 32-byte public key)
    key ID        first 4 bytes (big-endian uint32) of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)
    signature     — <name> base64(key ID ‖ Ed25519 signature of the text)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_NOTE_BYTES = 1_000_000
MAX_SIGNATURES = 100  # the spec asks to accept at least 16; Go's note.Open stops at 100
MAX_TREE_SIZE = 2**64 - 1  # tree sizes are uint64 everywhere else (Go, the tiles API)

_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline


class NoteError(ValueError):
    """A note, key or checkpoint is malformed or does not verify."""


class MalformedNoteError(NoteError):
    pass


class UnverifiedNoteError(NoteError):
    """No signature on the note is by a known key."""


class InvalidSignatureError(NoteError):
    """A signature by a known key does not verify: the whole note is rejected."""


class KeyFormatError(NoteError):
    pass


def _is_valid_name(name: str) -> bool:
    """Non-empty, with no Unicode space and no plus (the spec; Go's isValidName)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4, padded); binascii.Error when not."""
    if not text.isascii():
        raise binascii.Error("not ASCII")
    return base64.b64decode(text, validate=True)


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> int:
    """The uint32 key ID: SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


class Verifier:
    """An Ed25519 verifier key: name, key ID and public key."""

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: bytes):
        if not _is_valid_name(name):
            raise KeyFormatError(f"invalid key name {name!r}")
        if len(public_key) != 32:
            raise KeyFormatError("an Ed25519 public key has 32 bytes")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string, `<name>+<hex8>+<base64(0x01 ‖ public key)>`."""
        material = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self.vkey!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verifier) and other.vkey == self.vkey

    def __hash__(self) -> int:
        return hash(self.vkey)


class Signer:
    """An Ed25519 signer key: name and 32-byte seed. Its repr never shows the seed."""

    __slots__ = ("_key", "_seed", "key_id", "name", "public_key")

    def __init__(self, name: str, seed: bytes):
        if not _is_valid_name(name):
            raise KeyFormatError(f"invalid key name {name!r}")
        if len(seed) != 32:
            raise KeyFormatError("an Ed25519 private key seed has 32 bytes")
        self.name = name
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        self.public_key = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(name, self.public_key)

    @property
    def skey(self) -> str:
        """The signer key string, `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>`: a secret."""
        material = base64.b64encode(bytes([ALG_ED25519]) + self._seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{material}"

    @property
    def vkey(self) -> str:
        return self.verifier().vkey

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def sign_bytes(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message))

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"


def generate_signer(name: str) -> Signer:
    """A new Ed25519 signer key named `name` (a schema-less URL such as the log's origin)."""
    return Signer(name, secrets.token_bytes(32))


def _split_key(text: str, parts: int) -> list[str]:
    pieces = text.split("+", parts - 1)
    if len(pieces) != parts:
        raise KeyFormatError("a key has its parts separated by '+'")
    return pieces


def _key_material(name: str, hex8: str, material64: str) -> tuple[int, bytes]:
    if not _is_valid_name(name):
        raise KeyFormatError(f"invalid key name {name!r}")
    if not _HEX8.fullmatch(hex8):
        raise KeyFormatError("the key ID is not 8 hexadecimal digits")
    try:
        material = _b64decode(material64)
    except binascii.Error:
        raise KeyFormatError("the key material is not base64") from None
    if len(material) != 33:
        raise KeyFormatError("the key material is not 33 bytes (type and Ed25519 key)")
    if material[0] != ALG_ED25519:
        raise KeyFormatError(f"unsupported signature type 0x{material[0]:02x}")
    return int(hex8, 16), material[1:]


def parse_verifier_key(vkey: str) -> Verifier:
    """Parses `<name>+<hex8>+<base64(0x01 ‖ public key)>`, checking the key ID."""
    name, hex8, material64 = _split_key(vkey.strip(), 3)
    claimed, public_key = _key_material(name, hex8, material64)
    verifier = Verifier(name, public_key)
    if verifier.key_id != claimed:
        raise KeyFormatError("the key ID does not match the key's name and public key")
    return verifier


def parse_signer_key(skey: str) -> Signer:
    """Parses `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>`, checking the key ID."""
    private, key, name, hex8, material64 = _split_key(skey.strip(), 5)
    if (private, key) != ("PRIVATE", "KEY"):
        raise KeyFormatError("a signer key starts with PRIVATE+KEY+")
    claimed, seed = _key_material(name, hex8, material64)
    signer = Signer(name, seed)
    if signer.key_id != claimed:
        raise KeyFormatError("the key ID does not match the key's name and public key")
    return signer


# --- notes --------------------------------------------------------------------------------


class Signature(NamedTuple):
    name: str
    key_id: int
    signature: bytes  # without the 4-byte key ID

    @property
    def line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{SIG_PREFIX}{self.name} {encoded}\n"


class OpenedNote(NamedTuple):
    text: str
    signatures: list[Signature]  # the verified ones, from known keys


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise MalformedNoteError("note text must not contain control characters but newline")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise MalformedNoteError("note text is not valid Unicode") from None


def sign(text: str, *signers: Signer) -> str:
    """The signed note: text, a blank line, one signature line per signer."""
    if not signers:
        raise ValueError("sign needs at least one signer")
    _check_text(text)
    message = text.encode()
    lines = [Signature(s.name, s.key_id, s.sign_bytes(message)).line for s in signers]
    return text + "\n" + "".join(lines)


def parse_note(
    note: str | bytes, *, max_bytes: int = MAX_NOTE_BYTES
) -> tuple[str, list[Signature]]:
    """Splits a note into its text and signature lines, checking only their form."""
    if isinstance(note, bytes | bytearray):
        if len(note) > max_bytes:
            raise MalformedNoteError(f"note is longer than {max_bytes} bytes")
        try:
            note = bytes(note).decode()
        except UnicodeDecodeError:
            raise MalformedNoteError("note is not valid UTF-8") from None
    if len(note) > max_bytes:
        raise MalformedNoteError(f"note is longer than {max_bytes} bytes")
    try:
        size = len(note.encode())
    except UnicodeEncodeError:
        raise MalformedNoteError("note is not valid Unicode") from None
    if size > max_bytes:
        raise MalformedNoteError(f"note is longer than {max_bytes} bytes")
    if _CONTROL.search(note):
        raise MalformedNoteError("note must not contain control characters but newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise MalformedNoteError("signature line does not start with an em dash and a space")
        name, _, encoded = line[len(SIG_PREFIX) :].partition(" ")
        if not _is_valid_name(name) or not encoded:
            raise MalformedNoteError("signature line has no valid key name and signature")
        try:
            raw = _b64decode(encoded)
        except binascii.Error:
            raise MalformedNoteError("signature is not base64") from None
        if len(raw) < 5:
            raise MalformedNoteError("signature is too short")
        signatures.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, signatures


# Named as in golang.org/x/mod/sumdb/note; call it as note.open, it shadows the builtin here.
def open(
    note: str | bytes, verifiers: Iterable[Verifier], *, max_bytes: int = MAX_NOTE_BYTES
) -> OpenedNote:
    """Verifies a signed note against known verifier keys; returns its text and good signatures.

    Signatures by unknown keys (name and key ID not both known) are ignored; a signature by a
    known key that fails rejects the whole note; so does a note no known key signed.
    """
    known: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        ident = (verifier.name, verifier.key_id)
        if ident in known and known[ident] != verifier:
            raise NoteError(f"two verifier keys share name {verifier.name!r} and key ID")
        known[ident] = verifier
    text, signatures = parse_note(note, max_bytes=max_bytes)
    message = text.encode()
    verified: list[Signature] = []
    seen = set()
    for sig in signatures:
        ident = (sig.name, sig.key_id)
        key = known.get(ident)
        if key is None or ident in seen:
            continue
        seen.add(ident)
        if not key.verify(message, sig.signature):
            raise InvalidSignatureError(f"signature by {sig.name} does not verify")
        verified.append(sig)
    if not verified:
        raise UnverifiedNoteError("no signature on the note is by a known key")
    return OpenedNote(text, verified)


# --- checkpoints (c2sp.org/tlog-checkpoint) ------------------------------------------------


class Checkpoint(NamedTuple):
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def checkpoint_text(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """The checkpoint note text: origin, tree size, base64 root hash, extension lines."""
    if not origin or "\n" in origin or _CONTROL.search(origin):
        raise NoteError("checkpoint origin must be one non-empty line")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
        raise NoteError(f"checkpoint tree size {size!r} is not an unsigned 64-bit integer")
    if len(root) != 32:
        raise NoteError("checkpoint root hash must have 32 bytes")
    for line in extensions:
        if not line or "\n" in line or _CONTROL.search(line):
            raise NoteError("checkpoint extension lines must be non-empty single lines")
    lines = [origin, str(size), base64.b64encode(root).decode(), *extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parses checkpoint note text strictly: the inverse of checkpoint_text."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    if _CONTROL.search(text):
        raise NoteError("checkpoint text must not contain control characters but newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint text needs origin, tree size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise NoteError("checkpoint origin is empty")
    if not _DECIMAL.fullmatch(size_line) or int(size_line) > MAX_TREE_SIZE:
        raise NoteError("checkpoint tree size is not a decimal number without leading zeros")
    try:
        root = _b64decode(root_line)
    except binascii.Error:
        raise NoteError("checkpoint root hash is not base64") from None
    if len(root) != 32 or base64.b64encode(root).decode() != root_line:
        raise NoteError("checkpoint root hash is not the base64 of 32 bytes")
    if any(not line for line in extensions):
        raise NoteError("checkpoint extension lines must not be empty")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))
