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

FIELD_PURPOSE = {
    "phone": "contact.phone",
    "name": "contact.name",
    "organisation": "contact.organisation",
    "title": "contact.title",
    "notes": "contact.notes",
}


class Record(NamedTuple):
    line: int
    blind_index: str
    phone: str  # sealed
    name: str  # sealed, or "" when empty
    organisation: str
    title: str
    notes: str
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


def _seal(keyring: Keyring, value: str, purpose: str) -> str:
    return keyring.encrypt(value, purpose) if value else ""


def parse_row(
    keyring: Keyring,
    line: int,
    cells: list[str],
    columns: dict[str, int],
    default_region: str,
    enrich: bool = True,
) -> Record | Reject:
    def get(f: str) -> str:
        i = columns.get(f)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    def reject(reason: str) -> Reject:
        return Reject(
            line,
            reason,
            keyring.encrypt(json.dumps(cells, ensure_ascii=False), "import.reject.row"),
        )

    values = {f: get(f) for f in ("phone", "name", "organisation", "title", "region", "notes")}
    for v in values.values():
        if len(v) > MAX_CELL:
            return reject(gettext_noop("a cell is longer than 1,000 characters"))
    result = phones.normalise(values["phone"], default_region)
    if isinstance(result, phones.Invalid):
        return reject(result.reason)
    if enrich:
        place = phones.place(result)
        province, city_zh, city_en, tz = place
        if not province and values["region"] and result.region == "CN":
            province, _ = provinces.match(values["region"])
    else:
        province = city_zh = city_en = tz = ""
    return Record(
        line,
        keyring.blind_index(result.e164),
        keyring.encrypt(result.e164, "contact.phone"),
        _seal(keyring, values["name"], "contact.name"),
        _seal(keyring, values["organisation"], "contact.organisation"),
        _seal(keyring, values["title"], "contact.title"),
        _seal(keyring, values["notes"], "contact.notes"),
        result.region,
        province,
        city_zh[:64],
        city_en[:64],
        tz,
    )


def parse_batch(args: tuple) -> list[Record | Reject]:
    """Worker entry point: (rows, columns, default_region, enrich) → records and rejects."""
    rows, columns, default_region, enrich = args
    assert _keyring is not None, "init_worker was not run"  # noqa: S101
    return [
        parse_row(_keyring, line, cells, columns, default_region, enrich) for line, cells in rows
    ]
