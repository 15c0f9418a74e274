"""Writes of the log: appending entries and signing checkpoints.

Both run inside the caller's transaction, which must hold the log's write lock
(`log_lock()`): on SQLite every write transaction takes the database's write lock at BEGIN
(IMMEDIATE); on PostgreSQL an advisory lock serialises sealers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from phonebank.tlog import merkle, note, selectors, tiles
from phonebank.tlog.models import Bundle, Checkpoint, Tile

_ADVISORY_LOCK = 0x70686F6E  # "phon": one lock id for the log's writers


class LogRefused(Exception):
    """The signer will not sign: the stored tree does not extend the last checkpoint."""


@dataclass(frozen=True)
class Appended:
    first: int  # index of the first entry appended
    size: int  # the tree size after the append
    root: bytes


@functools.cache
def _signer(key: str, origin: str) -> note.Signer:
    try:
        signer = note.parse_signer_key(key)
    except note.NoteError as exc:
        raise ImproperlyConfigured(f"PHONEBANK_LOG_KEY: {exc}") from exc
    if origin and origin != signer.name:
        raise ImproperlyConfigured(
            f"PHONEBANK_LOG_ORIGIN is {origin!r} but the log key is named {signer.name!r}"
        )
    return signer


def log_signer() -> note.Signer:
    return _signer(settings.PHONEBANK_LOG_KEY, settings.PHONEBANK_LOG_ORIGIN)


def log_origin() -> str:
    return log_signer().name


def log_lock() -> None:
    """Takes the log's write lock for the current transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("log_lock() needs a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
    # SQLite: the transaction already holds the database's write lock (IMMEDIATE).


def log_append(entries: list[bytes]) -> Appended:
    """Appends entries after the stored ones: bundles, then the tiles the append grows."""
    log_lock()
    size = selectors.stored_size()
    coords = merkle.root_coords(size)
    edge = merkle.CompactRange.load(size, get_nodes=selectors.nodes) if coords else None
    tree = edge or merkle.CompactRange()
    chunks = tree.extend_levels(merkle.leaf_hash(e) for e in entries)
    current = selectors.tiles_read(tiles.partial_keys(size))
    grown = tiles.grown_tiles(chunks, current)
    Tile.objects.bulk_create(
        [
            Tile(level=lv, index=ix, hashes=h)
            for (lv, ix), h in grown.items()
            if (lv, ix) not in current
        ],
        batch_size=500,
    )
    for (level, index), hashes in grown.items():
        if (level, index) in current:
            Tile.objects.filter(level=level, index=index).update(hashes=hashes)
    _bundles_append(size, entries)
    return Appended(first=size, size=tree.size, root=tree.root())


def _bundles_append(size: int, entries: list[bytes]) -> None:
    index, count = divmod(size, tiles.WIDTH)
    pos = 0
    if count:
        row = Bundle.objects.get(index=index)
        take = min(tiles.WIDTH - count, len(entries))
        row.entries = tiles.bundle_append(bytes(row.entries), entries[:take])
        row.count = count + take
        row.save(update_fields=["entries", "count"])
        pos, index = take, index + 1
    new = []
    while pos < len(entries):
        chunk = entries[pos : pos + tiles.WIDTH]
        new.append(Bundle(index=index, entries=tiles.bundle_append(b"", chunk), count=len(chunk)))
        pos += len(chunk)
        index += 1
    Bundle.objects.bulk_create(new, batch_size=200)


def checkpoint_sign(*, counts: dict | None = None, now: datetime | None = None) -> Checkpoint:
    """Signs a checkpoint for the stored tree, refusing one the last does not lead to.

    The root and the consistency proof from the last checkpoint are read back from the
    stored tiles, so an altered or lost tile is caught here rather than published.
    """
    log_lock()
    size = selectors.stored_size()
    last = selectors.latest_checkpoint()
    if size == 0:
        raise LogRefused("the log is empty")
    root = selectors.root(size)
    if last is not None:
        if size <= last.size:
            raise LogRefused(
                f"nothing to sign: the log has {size} entries, last signed {last.size}"
            )
        try:
            proof = merkle.consistency_proof(last.size, size, get_nodes=selectors.nodes)
            merkle.verify_consistency(last.size, size, proof, bytes(last.root), root)
        except (merkle.ProofError, KeyError) as exc:
            raise LogRefused(
                f"the stored tree of {size} entries is not consistent with the checkpoint "
                f"of {last.size} entries ({exc}); refusing to sign"
            ) from exc
    signer = log_signer()
    text = note.checkpoint_text(signer.name, size, root)
    return Checkpoint.objects.create(
        size=size,
        root=root,
        note=note.sign(text, signer),
        counts=counts or {},
        created_at=now or timezone.now(),
    )
