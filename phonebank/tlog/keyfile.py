"""The log signing key's files: written whole or not at all, readable by their owner only.

Pure: no Django. A rotation stages the new key beside the key file (`staged_path`), and
once the log has announced it keeps the old key as a retired file (`retired_path`) and
renames the staged one over the key file, so at every moment the key file holds one whole
key and a crash leaves the new key on disk rather than lost.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def staged_path(path: Path) -> Path:
    """Where a new key waits until the log has announced it: `<key file>.next`."""
    return path.with_name(f"{path.name}.next")


def retired_path(path: Path, key_id: int) -> Path:
    """Where a replaced key is kept: `<key file>.retired-<key ID hex8>`."""
    return path.with_name(f"{path.name}.retired-{key_id:08x}")


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Writes text to path with mode 0600, synced.

    exclusive: create path, failing with FileExistsError if it exists. Otherwise write a
    temporary file beside it and rename it over path, so readers see the old or the new
    contents, never part of either.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _sync_folder(path.parent)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: mode 0600
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(path.parent)


def move_private(source: Path, target: Path) -> None:
    """Renames source over target (same folder), synced."""
    os.replace(source, target)
    _sync_folder(target.parent)
