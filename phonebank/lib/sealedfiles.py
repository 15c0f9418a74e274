"""Files sealed at rest under PHONEBANK_HOME (uploads waiting for an import, generated
exports): written and read as streams of AES-GCM chunks (lib.crypto), so their plaintext
exists only in memory, one chunk at a time."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from phonebank.lib import crypto
from phonebank.lib.fields import keyring

# The folders under PHONEBANK_HOME that hold sealed files (key rotation checks them all).
FOLDERS = ("uploads", "exports")


def folder(name: str) -> Path:
    """PHONEBANK_HOME/<name>, created readable by its owner only."""
    path = Path(settings.PHONEBANK_HOME) / name
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


class ChunkStream(io.RawIOBase):
    """A read-only binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def sealed_opener(path: Path, file_id: str) -> Callable[[], BinaryIO]:
    """An opener for a file sealed on disk: plaintext exists only in memory."""

    def opener() -> BinaryIO:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the wrapper below
        stream = io.BufferedReader(ChunkStream(crypto.open_stream(keyring(), fh, file_id)))
        stream.close = lambda: (fh.close(), io.BufferedReader.close(stream))  # type: ignore[method-assign]
        return stream

    return opener


@contextlib.contextmanager
def sealed_writer(path: Path, file_id: str) -> Iterator[crypto.SealedWriter]:
    """A new file (mode 0600, never an existing one) sealed as it is written. The caller
    calls ``finish()`` when the content is complete; a file left unfinished (an error, a
    killed process) never opens, and is deleted here when the error passes through."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield crypto.SealedWriter(keyring(), out, file_id)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


def key_ids(folder: Path) -> set[str]:
    """The ids of the data keys that seal the ``*.sealed`` files in a folder."""
    used = set()
    for path in folder.glob("*.sealed"):
        with open(path, "rb") as fh:
            head = fh.read(7)
            used.add(fh.read(head[-1]).decode())
    return used
