"""The registry's leaf records: their one byte encoding, and the counts they add up to.

Pure: no Django. The server builds every leaf with `encode_declaration`,
`encode_withdrawal` or `encode_key_change` and counts with `Tally`; an auditor decodes the
leaves it fetches with `decode` and counts them with the same `Tally`, so both sides agree
on what a leaf means.

A leaf is the UTF-8 of `json.dumps(record, ensure_ascii=False, sort_keys=True,
separators=(",", ":"))` where record is one of

    {"v": 1, "type": "declaration", "alias": str, "organisations": [codes], "province": str,
     "date": "YYYY-MM-DD", "source": "phone" | "web", "receipt": 64 lowercase hex}
    {"v": 1, "type": "withdrawal", "receipt": 64 lowercase hex, "date": "YYYY-MM-DD"}
    {"v": 1, "type": "key", "previous": vkey, "key": vkey, "date": "YYYY-MM-DD",
     "signature": base64(key ID ‖ Ed25519 signature by `previous` of key_change_text)}

Exactly one byte string encodes each record, so a leaf cannot carry anything but its fields
(no extra keys, spacing, escapes or key order to hide data in) and equal records hash equal.
The receipt is the SHA-256 commitment to the declarant's receipt code, never the code.

A key record announces the log's next signing key (`key`, a C2SP signed-note verifier key
with the log's name), signed by the key it replaces (`previous`): its text and signature
make the signed note `key_change_note(record)`, which any signed-note implementation opens
with the previous key. It is not a declaration and counts in no published figure.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from phonebank.tlog import note

VERSION = 1
ALIAS_MAX = 64
SOURCES = ("phone", "web")

_RECEIPT = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ORGANISATION = re.compile(r"[a-z0-9_-]{1,32}")  # a lowercase Django slug, as Organisation.code
_PROVINCE = re.compile(r"[A-Z]{2}")  # ISO 3166-2:CN without "CN-", as lib/provinces.py

_DECLARATION_KEYS = frozenset(
    ("v", "type", "alias", "organisations", "province", "date", "source", "receipt")
)
_WITHDRAWAL_KEYS = frozenset(("v", "type", "receipt", "date"))
_KEY_KEYS = frozenset(("v", "type", "previous", "key", "date", "signature"))
KEY_CHANGE_HEADER = "phonebank registry log key change v1"


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _check_str(record: Mapping[str, Any], key: str) -> str:
    value = record[key]
    if type(value) is not str:
        raise ValueError(f"{key} is not a string")
    return value


def _check_receipt(value: str) -> None:
    if not _RECEIPT.fullmatch(value):
        raise ValueError("receipt is not 64 lowercase hexadecimal digits")


def _check_date(value: str) -> None:
    if not _DATE.fullmatch(value):
        raise ValueError(f"date {value!r} is not YYYY-MM-DD")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"date {value!r} is not a calendar date") from None


def _check(record: Mapping[str, Any]) -> None:
    """Raises ValueError unless record has exactly the fields of its type, each valid."""
    kind = record.get("type")
    if kind == "declaration":
        keys = _DECLARATION_KEYS
    elif kind == "withdrawal":
        keys = _WITHDRAWAL_KEYS
    elif kind == "key":
        keys = _KEY_KEYS
    else:
        raise ValueError(f"unknown record type {kind!r}")
    if set(record) != keys:
        extra, missing = sorted(set(record) - keys), sorted(keys - set(record))
        detail = "; ".join(
            part
            for part in (
                f"unexpected keys {', '.join(extra)}" if extra else "",
                f"missing keys {', '.join(missing)}" if missing else "",
            )
            if part
        )
        raise ValueError(f"a {kind} record has other keys: {detail}")
    version = record["v"]
    if type(version) is not int or version != VERSION:
        raise ValueError(f"record version {version!r} is not {VERSION}")
    _check_date(_check_str(record, "date"))
    if kind == "key":
        _check_key_change(record)
        return
    _check_receipt(_check_str(record, "receipt"))
    if kind == "withdrawal":
        return
    alias = _check_str(record, "alias")
    if not 1 <= len(alias) <= ALIAS_MAX:
        raise ValueError(f"alias has {len(alias)} characters, not 1 to {ALIAS_MAX}")
    organisations = record["organisations"]
    if type(organisations) is not list or not organisations:
        raise ValueError("organisations is not a non-empty list")
    for code in organisations:
        if type(code) is not str or not _ORGANISATION.fullmatch(code):
            raise ValueError(f"organisation code {code!r} is not a lowercase slug")
    if organisations != sorted(set(organisations)):
        raise ValueError("organisations are not sorted and unique")
    province = _check_str(record, "province")
    if province and not _PROVINCE.fullmatch(province):
        raise ValueError(f"province {province!r} is not empty or a two-letter code")
    if _check_str(record, "source") not in SOURCES:
        raise ValueError(f"source {record['source']!r} is not one of {', '.join(SOURCES)}")


def _verifier(record: Mapping[str, Any], field: str) -> note.Verifier:
    value = _check_str(record, field)
    try:
        verifier = note.parse_verifier_key(value)
    except note.NoteError as exc:
        raise ValueError(f"{field} is not a verifier key ({exc})") from None
    if verifier.vkey != value:
        raise ValueError(f"{field} is not a verifier key in its canonical form")
    return verifier


def key_label(vkey: str) -> str:
    """`name+hex8`: how messages name a verifier key (the part before its public key)."""
    return "+".join(vkey.split("+", 2)[:2])


def key_change_text(previous: str, key: str) -> str:
    """The text a key record's signature signs: a header line, the old key, the new key."""
    return f"{KEY_CHANGE_HEADER}\n{previous}\n{key}\n"


def key_change_note(record: Mapping[str, Any]) -> str:
    """The key record as a C2SP signed note, signed by the previous key."""
    name = record["previous"].split("+", 1)[0]
    text = key_change_text(record["previous"], record["key"])
    return f"{text}\n{note.SIG_PREFIX}{name} {record['signature']}\n"


def _check_key_change(record: Mapping[str, Any]) -> None:
    previous, key = _verifier(record, "previous"), _verifier(record, "key")
    if previous.name != key.name:
        raise ValueError(
            f"the new key is named {key.name!r}, not {previous.name!r} as the key it replaces"
        )
    if previous.key_id == key.key_id:
        raise ValueError("the new key has the key ID of the key it replaces")
    _check_str(record, "signature")
    try:
        note.open(key_change_note(record), [previous])
    except note.NoteError as exc:
        raise ValueError(
            "the key change is not signed by the key it replaces, "
            f"{key_label(previous.vkey)} ({exc})"
        ) from None


def _encode(record: dict[str, Any]) -> bytes:
    _check(record)
    return _dumps(record).encode()


def _iso(value: datetime.date | str) -> str:
    if isinstance(value, datetime.datetime):
        raise ValueError("a record's date is a calendar date, not a date and time")
    return value.isoformat() if isinstance(value, datetime.date) else value


def encode_declaration(
    *,
    alias: str,
    organisations: Iterable[str],
    province: str,
    date: datetime.date | str,
    source: str,
    receipt: str,
) -> bytes:
    """The leaf of a declaration (organisations sorted and de-duplicated); ValueError if invalid."""
    return _encode(
        {
            "v": VERSION,
            "type": "declaration",
            "alias": alias,
            "organisations": sorted(set(organisations)),
            "province": province,
            "date": _iso(date),
            "source": source,
            "receipt": receipt,
        }
    )


def encode_withdrawal(*, receipt: str, date: datetime.date | str) -> bytes:
    """The leaf of a withdrawal of the declaration committed to by `receipt`."""
    return _encode({"v": VERSION, "type": "withdrawal", "receipt": receipt, "date": _iso(date)})


def encode_key_change(*, signer: note.Signer, key: str, date: datetime.date | str) -> bytes:
    """The leaf announcing `key` as the log's next key, signed by `signer`, the current one."""
    text = key_change_text(signer.vkey, key)
    signed = note.sign(text, signer)
    signature = signed[len(text) + 1 :].rstrip("\n").rpartition(" ")[2]
    return _encode(
        {
            "v": VERSION,
            "type": "key",
            "previous": signer.vkey,
            "key": key,
            "date": _iso(date),
            "signature": signature,
        }
    )


def encode(record: Mapping[str, Any]) -> bytes:
    """The leaf of a record as `decode` returns it; ValueError unless it is a valid record."""
    return _encode(dict(record))


def decode(data: bytes) -> dict[str, Any]:
    """The record a leaf holds; ValueError unless data is exactly its canonical encoding."""
    try:
        text = bytes(data).decode()
    except UnicodeDecodeError:
        raise ValueError("leaf is not valid UTF-8") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"leaf is not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("leaf is not a JSON object")
    _check(record)
    if _dumps(record) != text:
        raise ValueError("leaf is not in canonical form (key order, spacing, escapes)")
    return record


# --- counting ------------------------------------------------------------------------------


@dataclass(slots=True)
class Receipt:
    """What the log says of one declaration's receipt commitment."""

    index: int  # the leaf index of the declaration
    organisations: tuple[str, ...]
    province: str
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class KeyChange:
    """A key record: at leaf `index` the log's key `previous` handed over to `key`."""

    index: int
    previous: str
    key: str


class Tally:
    """Counts of a log's records, read in log order, and the receipts withdrawals name.

    `add` enforces the rules a log must keep: a declaration's receipt is new; a withdrawal
    names the receipt of an earlier declaration that is not withdrawn yet; a key change is
    signed by the log's key at that point. `key` is that key: the last key change's, or the
    one given (what an auditor resuming its work trusts), or None when nothing says yet.
    """

    __slots__ = (
        "declarations",
        "key",
        "key_changes",
        "organisations",
        "provinces",
        "receipts",
        "withdrawals",
    )

    def __init__(self, key: str | None = None) -> None:
        self.declarations = 0
        self.withdrawals = 0
        self.organisations: Counter[str] = Counter()  # active declarations naming each code
        self.provinces: Counter[str] = Counter()  # active declarations in each province
        self.receipts: dict[str, Receipt] = {}
        self.key_changes: list[KeyChange] = []
        self.key = key

    @classmethod
    def from_receipts(
        cls,
        receipts: Mapping[str, Receipt],
        key_changes: Iterable[KeyChange] = (),
        key: str | None = None,
    ) -> Tally:
        """The tally of a log whose declarations are `receipts` (withdrawn or not), whose key
        records are `key_changes` and whose key is `key` (the last change's, if any)."""
        tally = cls(key)
        tally.receipts = dict(receipts)
        tally.key_changes = list(key_changes)
        if tally.key_changes:
            tally.key = tally.key_changes[-1].key
        for r in tally.receipts.values():
            tally.declarations += 1
            if r.withdrawn:
                tally.withdrawals += 1
            else:
                tally.organisations.update(r.organisations)
                if r.province:
                    tally.provinces[r.province] += 1
        return tally

    @property
    def size(self) -> int:
        """Records counted so far: the index the next record has in the log."""
        return self.declarations + self.withdrawals + len(self.key_changes)

    @property
    def active(self) -> int:
        return self.declarations - self.withdrawals

    def add(self, record: Mapping[str, Any]) -> None:
        """Counts the next record of the log (as `decode` returns it); ValueError if it breaks a rule."""
        if record["type"] == "key":
            previous = record["previous"]
            if self.key is not None and previous != self.key:
                raise ValueError(
                    f"a key change signed by {key_label(previous)}, but the log's key at this "
                    f"point is {key_label(self.key)}"
                )
            self.key_changes.append(KeyChange(self.size, previous, record["key"]))
            self.key = record["key"]
            return
        receipt = record["receipt"]
        known = self.receipts.get(receipt)
        if record["type"] == "declaration":
            if known is not None:
                raise ValueError(f"receipt {receipt} was already declared at leaf {known.index}")
            organisations = tuple(record["organisations"])
            province = record["province"]
            self.receipts[receipt] = Receipt(self.size, organisations, province)
            self.declarations += 1
            self.organisations.update(organisations)
            if province:
                self.provinces[province] += 1
        elif record["type"] == "withdrawal":
            if known is None:
                raise ValueError(f"withdrawal of receipt {receipt}, which no earlier leaf declares")
            if known.withdrawn:
                raise ValueError(
                    f"withdrawal of receipt {receipt} (declared at leaf {known.index}), "
                    "which is already withdrawn"
                )
            known.withdrawn = True
            self.withdrawals += 1
            self.organisations.subtract(known.organisations)
            if known.province:
                self.provinces[known.province] -= 1
        else:
            raise ValueError(f"unknown record type {record['type']!r}")

    def as_dict(self) -> dict[str, Any]:
        """The published figures: totals, and active declarations per organisation and province.

        Codes with no active declaration are left out.
        """
        return {
            "declarations": self.declarations,
            "withdrawals": self.withdrawals,
            "active": self.active,
            "organisations": {k: n for k, n in sorted(self.organisations.items()) if n},
            "provinces": {k: n for k, n in sorted(self.provinces.items()) if n},
        }
