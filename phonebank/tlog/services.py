"""Writes of the log: appending entries, signing checkpoints, rotating the signing key.

Appends and signatures run inside the caller's transaction, which must hold the log's write
lock (`log_lock()`): on SQLite every write transaction takes the database's write lock at
BEGIN (IMMEDIATE); on PostgreSQL an advisory lock serialises sealers.

The signing key is read from PHONEBANK_LOG_KEY, PHONEBANK_LOG_KEY_FILE or the generated
PHONEBANK_HOME/log-signing.key (settings.py), never from the database. The database keeps
the verifier keys the log has signed with (`LogKey`), so every process agrees on which key
is in force and refuses to sign with any other.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from phonebank.audit.services import log_action
from phonebank.tlog import keyfile, merkle, note, records, selectors, tiles
from phonebank.tlog.models import Bundle, Checkpoint, LogKey, Tile

KEY_FROM_ENVIRONMENT = "PHONEBANK_LOG_KEY"  # settings.PHONEBANK_LOG_KEY_SOURCE for the variable

_ADVISORY_LOCK = 0x70686F6E  # "phon": one lock id for the log's writers


class LogRefused(Exception):
    """The signer will not sign: the stored tree does not extend the last checkpoint, or
    this process's key is not the one the log has in force."""


class KeyRotationRefused(Exception):
    """The signing key cannot be rotated as asked (nothing was changed)."""


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
    """The signing key this process holds (which may lag a rotation made elsewhere)."""
    return _signer(settings.PHONEBANK_LOG_KEY, settings.PHONEBANK_LOG_ORIGIN)


def log_key_current() -> str:
    """The verifier key of the log's key in force: the last one announced in the log, or
    before any checkpoint records one, this process's."""
    return selectors.log_key_announced() or log_signer().vkey


def log_verifier() -> note.Verifier:
    return note.parse_verifier_key(log_key_current())


def _key_file() -> Path | None:
    source = settings.PHONEBANK_LOG_KEY_SOURCE
    return None if source == KEY_FROM_ENVIRONMENT else Path(source)


def _reload_signer() -> note.Signer | None:
    """The key in this installation's key file now (a rotation may have replaced it since
    this process started), or None when the key comes from the environment or is unreadable."""
    path = _key_file()
    if path is None:
        return None
    try:
        text = path.read_text().strip()
        signer = _signer(text, settings.PHONEBANK_LOG_ORIGIN)
    except (OSError, ImproperlyConfigured):
        return None
    settings.PHONEBANK_LOG_KEY = text
    return signer


def _signer_in_force() -> note.Signer:
    """This process's signing key, provided it is the key the log announced last.

    A rotation run in another process announces the new key and writes it where this
    process read its key: a long-running worker picks it up here instead of signing with a
    key the log has retired.
    """
    signer = log_signer()
    announced = selectors.log_key_announced()
    if announced is None or announced == signer.vkey:
        return signer
    reloaded = _reload_signer()
    if reloaded is not None and reloaded.vkey == announced:
        return reloaded
    ids = records.key_label(announced), records.key_label(signer.vkey)
    path = _key_file()
    if path is None:
        hint = (
            f"PHONEBANK_LOG_KEY holds {ids[1]}: put the announced key in PHONEBANK_LOG_KEY "
            "and restart this process"
        )
    elif keyfile.staged_path(path).exists():
        hint = (
            f"{path} holds {ids[1]}: run `phonebank registry rotate-key` again to finish "
            "switching to the new key"
        )
    else:
        hint = f"{path} holds {ids[1]}: put the announced key back in that file"
    raise LogRefused(f"the log's key in force is {ids[0]}, but {hint}; refusing to sign")


def _first_key_record(signer: note.Signer, last: Checkpoint | None, now: datetime) -> None:
    """Records the log's first key, once: the key that signs its first checkpoint, or on a
    log older than key records, the key that signed its last checkpoint."""
    if LogKey.objects.exists():
        return
    if last is not None:
        try:
            note.open(last.note, [signer.verifier()])
        except note.NoteError:
            raise LogRefused(
                f"the last checkpoint (size {last.size}) is not signed by this installation's "
                f"key {records.key_label(signer.vkey)}: the log was signed with another key "
                "(restore that key); refusing to sign"
            ) from None
    LogKey.objects.create(vkey=signer.vkey, created_at=now)


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
    stored tiles, so an altered or lost tile is caught here rather than published. Only the
    log's key in force signs: a process holding another key refuses (`LogRefused`).
    """
    log_lock()
    return _checkpoint_sign([_signer_in_force()], counts=counts, now=now or timezone.now())


def _checkpoint_sign(
    signers: list[note.Signer], *, counts: dict | None, now: datetime
) -> Checkpoint:
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
    _first_key_record(signers[0], last, now)
    text = note.checkpoint_text(signers[0].name, size, root)
    return Checkpoint.objects.create(
        size=size,
        root=root,
        note=note.sign(text, *signers),
        counts=counts or {},
        created_at=now,
    )


# --- rotating the signing key -------------------------------------------------------------


@dataclass(frozen=True)
class Rotated:
    previous: str  # verifier keys
    key: str
    index: int  # the leaf of the key record
    checkpoint: Checkpoint  # the first to include it, signed by both keys
    written: Path  # where the new signing key is now
    retired: Path | None  # where the old one is kept (None: it is in the environment)
    resumed: bool = False  # only the files of an announced rotation were switched


@transaction.atomic
def log_key_announce(*, new: note.Signer, actor=None, now: datetime | None = None) -> Rotated:
    """Appends the key record announcing `new`, signed by the key in force, and signs the
    checkpoint that includes it with both keys; from then on only `new` may sign.

    Pending registry entries stay pending: they go out with their batch, as always.
    """
    now = now or timezone.now()
    log_lock()
    old = _signer_in_force()
    if new.name != old.name:
        raise KeyRotationRefused(
            f"the new key is named {new.name!r}, not after the log's origin {old.name!r}"
        )
    if new.key_id == old.key_id or LogKey.objects.filter(vkey=new.vkey).exists():
        raise KeyRotationRefused("the new key (or its key ID) is one the log has used before")
    last = selectors.latest_checkpoint()
    _first_key_record(old, last, now)
    entry = records.encode_key_change(signer=old, key=new.vkey, date=timezone.localdate(now))
    appended = log_append([entry])
    counts = dict(last.counts) if last is not None else {}  # a key record counts in no figure
    checkpoint = _checkpoint_sign([old, new], counts=counts, now=now)
    LogKey.objects.create(
        vkey=new.vkey, index=appended.first, checkpoint=checkpoint, created_at=now
    )
    log_action(
        checkpoint,
        "keys.log.rotated",
        actor=actor,
        previous=records.key_label(old.vkey),
        key=records.key_label(new.vkey),
        index=appended.first,
        size=checkpoint.size,
    )
    return Rotated(
        previous=old.vkey,
        key=new.vkey,
        index=appended.first,
        checkpoint=checkpoint,
        written=Path(),
        retired=None,
    )


def _read_signer(path: Path) -> note.Signer | None:
    try:
        return note.parse_signer_key(path.read_text())
    except (OSError, note.NoteError):
        return None


def _switch_files(path: Path, old: note.Signer, new: note.Signer) -> Path:
    """Keeps the old key as a retired file, then renames the staged new key over the key file."""
    retired = keyfile.retired_path(path, old.key_id)
    keyfile.write_private(retired, old.skey + "\n")
    keyfile.move_private(keyfile.staged_path(path), path)
    return retired


def log_key_rotate(
    *, actor=None, new_key_file: Path | None = None, now: datetime | None = None
) -> Rotated:
    """Rotates the log's signing key: a new Ed25519 key for the same origin, announced in the
    log by the old one (`log_key_announce`), then put where this installation reads its key.

    With a key file (PHONEBANK_LOG_KEY_FILE or the generated one) the new key is staged
    beside it (mode 0600) before the announcement and renamed over it after, the old key
    kept as a retired file; a run interrupted after the announcement is finished by running
    it again. With the key in PHONEBANK_LOG_KEY the new key is written to `new_key_file`
    (created, mode 0600) for the operator to put in the environment.
    """
    path = _key_file()
    if path is None and new_key_file is None:
        raise KeyRotationRefused(
            "the signing key comes from the PHONEBANK_LOG_KEY variable, which this command "
            "cannot rewrite: pass --new-key-file PATH to have the new key written there, then "
            "put it in PHONEBANK_LOG_KEY and restart the servers and workers"
        )
    if path is not None and new_key_file is not None:
        raise KeyRotationRefused(
            f"the signing key is read from {path}, where the new key will go: "
            "--new-key-file is only for a key kept in PHONEBANK_LOG_KEY"
        )
    old = log_signer()
    announced = selectors.log_key_announced()
    if path is not None and announced is not None and announced != old.vkey:
        staged = _read_signer(keyfile.staged_path(path))
        if staged is None or staged.vkey != announced:
            raise KeyRotationRefused(
                f"the log's key in force is {records.key_label(announced)}, but {path} holds "
                f"{records.key_label(old.vkey)} and no staged key matches it: put the key in "
                "force back in that file"
            )
        return _resume(path, old, staged, actor=actor)
    new = note.generate_signer(old.name)
    staging = keyfile.staged_path(path) if path is not None else new_key_file
    try:
        keyfile.write_private(staging, new.skey + "\n", exclusive=path is None)
    except FileExistsError:
        raise KeyRotationRefused(f"{staging} exists: name a new file") from None
    try:
        rotated = log_key_announce(new=new, actor=actor, now=now)
    except BaseException:
        staging.unlink(missing_ok=True)  # never announced: nobody will ask for it
        raise
    retired = _switch_files(path, old, new) if path is not None else None
    settings.PHONEBANK_LOG_KEY = new.skey
    return dataclasses.replace(rotated, written=path or staging, retired=retired)


def _resume(path: Path, old: note.Signer, new: note.Signer, *, actor) -> Rotated:
    """Finishes a rotation announced in the log whose new key is still staged."""
    row = LogKey.objects.select_related("checkpoint").get(vkey=new.vkey)
    retired = _switch_files(path, old, new)
    settings.PHONEBANK_LOG_KEY = new.skey
    with transaction.atomic():
        log_action(
            row.checkpoint,
            "keys.log.switched",
            actor=actor,
            previous=records.key_label(old.vkey),
            key=records.key_label(new.vkey),
        )
    return Rotated(
        previous=old.vkey,
        key=new.vkey,
        index=row.index,
        checkpoint=row.checkpoint,
        written=path,
        retired=retired,
        resumed=True,
    )
