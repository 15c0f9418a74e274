"""The CPU-heavy half of an import: rows in, sealed contact records or rejects out.

No Django: this runs in worker processes (``PHONEBANK_IMPORT_PROCESSES``) while the parent
writes to the database, so parsing, geocoding and encryption happen outside any write
transaction (SQLite has one writer; claims must not wait behind an import).
"""

from __future__ import annotations

import json
from typing import NamedTuple

from phonebank.contacts.reader import MAX_CELL, gettext_noop
from phonebank.lib import phones, provinces
from phonebank.lib.crypto import Keyring

FIELD_PURPOSE = {"phone": "contact.phone", "details": "contact.details"}


DETAILS = ("name", "organisation", "title", "notes")  # order of Contact.details' array
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def details_json(name: str, organisation: str, title: str, notes: str) -> str:
    """The plaintext of Contact.details: a JSON array in DETAILS order, "" when all empty."""
    if not (name or organisation or title or notes):
        return ""
    return _encode([name, organisation, title, notes])


class Record(NamedTuple):
    line: int
    blind_index: bytes
    phone: str  # sealed
    details: str  # sealed JSON of name, organisation, title, notes; "" when all are empty
    country: str
    province: str
    city_zh: str
    city_en: str
    timezone: str


class Reject(NamedTuple):
    line: int
    reason: str
    row: str  # sealed JSON of the cells as read


_keyring: Keyring | None = None


def init_worker(keyring_text: str) -> None:
    """Pool initializer: each worker process holds the keyring once."""
    global _keyring
    _keyring = Keyring.loads(keyring_text)


_FIELDS = ("phone", "name", "organisation", "title", "region", "notes")


def _reject(keyring: Keyring, line: int, cells: list[str], reason: str) -> Reject:
    return Reject(
        line,
        reason,
        keyring.encrypt(json.dumps(cells, ensure_ascii=False), "import.reject.row"),
    )


def parse_row(
    keyring: Keyring,
    line: int,
    cells: list[str],
    columns: dict[str, int],
    default_region: str,
    enrich: bool = True,
) -> Record | Reject:
    # Runs once per row of every import: plain loops and locals, no closures or dicts.
    n = len(cells)
    values = []
    for f in _FIELDS:
        i = columns.get(f)
        values.append(cells[i].strip() if i is not None and i < n else "")
    if max(map(len, values)) > MAX_CELL:
        return _reject(keyring, line, cells, gettext_noop("a cell is longer than 1,000 characters"))
    phone, name, organisation, title, region, notes = values
    result = phones.normalise(phone, default_region)
    if isinstance(result, phones.Invalid):
        return _reject(keyring, line, cells, result.reason)
    if enrich:
        province, city_zh, city_en, tz = phones.place(result)
        if not province and region and result.region == "CN":
            province, _ = provinces.match(region)
    else:
        province = city_zh = city_en = tz = ""
    encrypt = keyring.encrypt
    details = details_json(name, organisation, title, notes)
    return Record(
        line,
        keyring.blind_index(result.e164),
        encrypt(result.e164, "contact.phone"),
        encrypt(details, "contact.details") if details else "",
        result.region,
        province,
        city_zh[:64],
        city_en[:64],
        tz,
    )


def parse_batch(args: tuple) -> list[tuple]:
    """Worker entry point: (rows, columns, default_region, enrich) → records and rejects,
    as plain tuples (``from_wire`` turns them back): a named tuple costs four times as much
    to pickle, and every row crosses between processes."""
    rows, columns, default_region, enrich = args
    assert _keyring is not None, "init_worker was not run"  # noqa: S101 - this module's own invariant, not a check of input  # nosec B101
    return [
        tuple(parse_row(_keyring, line, cells, columns, default_region, enrich))
        for line, cells in rows
    ]


_RECORD_LEN = len(Record._fields)


def from_wire(parsed: list[tuple]) -> list[Record | Reject]:
    return [Record._make(t) if len(t) == _RECORD_LEN else Reject._make(t) for t in parsed]
