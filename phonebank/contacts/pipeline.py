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
# What json.dumps(..., ensure_ascii=False) writes for one string (json's C function), so the
# array below is byte for byte json.dumps([...], ensure_ascii=False, separators=(",", ":"))
# at a quarter of the cost of going through JSONEncoder (tests/test_import.py compares).
_string = json.encoder.encode_basestring


def details_json(name: str, organisation: str, title: str, notes: str) -> str:
    """The plaintext of Contact.details: a JSON array in DETAILS order, "" when all empty."""
    if not (name or organisation or title or notes):
        return ""
    return f"[{_string(name)},{_string(organisation)},{_string(title)},{_string(notes)}]"


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


_TOO_LONG = gettext_noop("a cell is longer than 1,000 characters")


def _prepare(
    line: int, cells: list[str], where: list[int | None], default_region: str, enrich: bool
) -> tuple:
    """All of parse_row but the sealing: (line, reason) for a reject, else (line, E.164,
    details JSON, country, province, city_zh, city_en, time zone). ``where`` holds the
    column index of each of _FIELDS (None when the file has no such column)."""
    # Runs once per row of every import: plain loops and locals, no closures or dicts.
    n = len(cells)
    values = [cells[i].strip() if i is not None and i < n else "" for i in where]
    if max(map(len, values)) > MAX_CELL:
        return line, _TOO_LONG
    phone, name, organisation, title, region, notes = values
    result = phones.normalise(phone, default_region)
    if type(result) is phones.Invalid:
        return line, result.reason
    if enrich:
        province, city_zh, city_en, tz = phones.place(result)
        if not province and region and result.region == "CN":
            province, _ = provinces.match(region)
    else:
        province = city_zh = city_en = tz = ""
    return (
        line,
        result.e164,
        details_json(name, organisation, title, notes),
        result.region,
        province,
        city_zh[:64],
        city_en[:64],
        tz,
    )


def _where(columns: dict[str, int]) -> list[int | None]:
    return [columns.get(f) for f in _FIELDS]


def parse_row(
    keyring: Keyring,
    line: int,
    cells: list[str],
    columns: dict[str, int],
    default_region: str,
    enrich: bool = True,
) -> Record | Reject:
    p = _prepare(line, cells, _where(columns), default_region, enrich)
    if len(p) == 2:
        return _reject(keyring, line, cells, p[1])
    _, e164, details, *place = p
    return Record(
        line,
        keyring.blind_index(e164),
        keyring.encrypt(e164, FIELD_PURPOSE["phone"]),
        keyring.encrypt(details, FIELD_PURPOSE["details"]) if details else "",
        *place,
    )


def parse_batch(args: tuple) -> list[tuple]:
    """Worker entry point: (rows, columns, default_region, enrich) → records and rejects,
    as plain tuples (``from_wire`` turns them back): a named tuple costs four times as much
    to pickle, and every row crosses between processes.

    The same as ``parse_row`` on each row, with the batch's values sealed together
    (``Keyring.encrypt_many``: one nonce draw per batch instead of one per value)."""
    rows, columns, default_region, enrich = args
    ring = _keyring
    assert ring is not None, "init_worker was not run"  # noqa: S101 - this module's own invariant, not a check of input  # nosec B101
    where = _where(columns)
    prepared = [_prepare(line, cells, where, default_region, enrich) for line, cells in rows]
    valid = [p for p in prepared if len(p) != 2]
    phone = iter(ring.encrypt_many([p[1] for p in valid], FIELD_PURPOSE["phone"]))
    details = iter(ring.encrypt_many([p[2] for p in valid if p[2]], FIELD_PURPOSE["details"]))
    index = ring.blind_index
    out: list[tuple] = []
    for p, (line, cells) in zip(prepared, rows, strict=True):
        if len(p) == 2:
            out.append(tuple(_reject(ring, line, cells, p[1])))
        else:
            out.append((line, index(p[1]), next(phone), next(details) if p[2] else "", *p[3:]))
    return out


_RECORD_LEN = len(Record._fields)


def from_wire(parsed: list[tuple]) -> list[Record | Reject]:
    return [Record._make(t) if len(t) == _RECORD_LEN else Reject._make(t) for t in parsed]
