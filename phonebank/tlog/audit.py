"""An auditor for the registry's transparency log: checks it from outside, over HTTP.

Pure: no Django. `audit` reads the log through a `fetch(path) -> (status, content type,
body)` callable, so the same code checks a remote log (`http_fetcher`) and the local one
in-process (the `registry verify` command passes Django's test client). One run:

1. fetches the verifier key and pins it: the key seen first, or the one the caller gives,
   must stay the log's key, unless the log hands over to another key in the log itself;
2. fetches the checkpoint, verifies its signature and that its origin is the key's name;
3. checks it against the last checkpoint verified before: never smaller, never another
   root at the same size, and a consistency proof from the old size to the new;
4. fetches the leaves it has not seen, rebuilds the tree's right edge from where it stopped
   and compares the root with the checkpoint's; every leaf must be a canonical record and
   keep the log's rules (`records.Tally`);
5. recounts the figures the registry publishes (/registry/stats.json) and compares;
6. only then saves its state (key, checkpoint, tree edge, counts, receipts) for the next run.

A key rotation is followed only through the log: a key record (records.py) announcing the
new key, signed by the key trusted, in a checkpoint signed by the key trusted. When the
latest checkpoint is signed by a key the auditor does not trust yet, /log/keys tells it
which older checkpoint holds the hand-over; that checkpoint is verified like any other,
and trust moves on only if its leaves announce exactly that key. Any other change of key
fails, naming both keys.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import itertools
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from phonebank.tlog import note, records
from phonebank.tlog.merkle import (
    HASH_SIZE,
    CompactRange,
    ProofError,
    leaf_hash,
    root_coords,
    verify_consistency,
)
from phonebank.tlog.records import KeyChange, Receipt, Tally

Fetch = Callable[[str], tuple[int, str, bytes]]

LEAVES_PER_REQUEST = 1000  # the most /log/leaves returns at once (SPEC section 3)
STATE_VERSION = 1
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
MAX_DIFFERENCES_SHOWN = 10
STATS_PATH = "/registry/stats.json"
KEYS_PATH = "/log/keys"


class AuditError(Exception):
    """The log, the counts it publishes, or the auditor's own state do not check out."""


@dataclass(frozen=True)
class AuditResult:
    key: str  # the verifier key, pinned
    size: int
    root: bytes
    counts: dict[str, Any]  # as records.Tally.as_dict()
    previous_size: int | None  # the size verified on the run before; None on the first run
    new_leaves: int  # leaves fetched and checked by this run
    elapsed: float  # seconds
    followed: tuple[KeyChange, ...] = ()  # key changes through which this run moved its trust

    @property
    def key_id(self) -> str:
        return _key_id(note.parse_verifier_key(self.key))


def _key_id(verifier: note.Verifier) -> str:
    return f"{verifier.name}+{verifier.key_id:08x}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- fetching and checking responses ------------------------------------------------------


def _get(fetch: Fetch, path: str, media_type: str) -> bytes:
    status, content_type, body = fetch(path)
    if status != 200:
        raise AuditError(f"GET {path}: HTTP {status}")
    served = content_type.split(";", 1)[0].strip().lower()
    if served != media_type:
        raise AuditError(f"GET {path}: content type {content_type!r}, not {media_type}")
    return body


def _get_json(fetch: Fetch, path: str) -> dict[str, Any]:
    body = _get(fetch, path, "application/json")
    try:
        value = json.loads(body)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
        raise AuditError(f"GET {path}: the body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise AuditError(f"GET {path}: the body is not a JSON object")
    return value


def _get_text(fetch: Fetch, path: str) -> str:
    body = _get(fetch, path, "text/plain")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise AuditError(f"GET {path}: the body is not UTF-8") from None


def _decode_b64(value: object, path: str, what: str) -> bytes:
    if not isinstance(value, str) or not value.isascii():
        raise AuditError(f"GET {path}: {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise AuditError(f"GET {path}: {what} is not valid base64") from None


def _b64_list(fetch: Fetch, path: str, field: str) -> list[object]:
    values = _get_json(fetch, path).get(field)
    if not isinstance(values, list):
        raise AuditError(f"GET {path}: no {field!r} list in the response")
    return values


def _fetch_key(fetch: Fetch) -> note.Verifier:
    path = "/log/key"
    text = _get_text(fetch, path)
    line = text.removesuffix("\n")
    if not line or "\n" in line:
        raise AuditError(f"GET {path}: not one line holding a verifier key")
    try:
        return note.parse_verifier_key(line)
    except note.NoteError as exc:
        raise AuditError(f"GET {path}: not a verifier key ({exc})") from None


@dataclass(frozen=True)
class _Seen:
    """A checkpoint whose signature verified."""

    size: int
    root: bytes
    note: str  # the whole signed note


def _open_checkpoint(
    text: str, verifier: note.Verifier, where: str, *, also: tuple[note.Verifier, ...] = ()
) -> _Seen:
    try:
        opened = note.open(text, [verifier, *also])
    except note.NoteError as exc:
        raise AuditError(
            f"{where}: the signature does not verify with the log's key {_key_id(verifier)} ({exc})"
        ) from None
    try:
        checkpoint = note.parse_checkpoint(opened.text)
    except note.NoteError as exc:
        raise AuditError(f"{where}: not a checkpoint ({exc})") from None
    if checkpoint.origin != verifier.name:
        raise AuditError(
            f"{where}: the origin {checkpoint.origin!r} is not the key's name {verifier.name!r}"
        )
    return _Seen(checkpoint.size, checkpoint.root, text)


def _signed_by(text: str, verifier: note.Verifier) -> bool:
    """False only when no signature on the note is by `verifier` (a bad one is reported by
    _open_checkpoint)."""
    try:
        note.open(text, [verifier])
    except note.UnverifiedNoteError:
        return False
    except note.NoteError:
        return True
    return True


def _fetch_keys(fetch: Fetch) -> list[tuple[note.Verifier, int | None, str | None]]:
    """/log/keys: (key, leaf announcing it, checkpoint handing over to it), oldest first."""
    listed = _get_json(fetch, KEYS_PATH).get("keys")
    if not isinstance(listed, list):
        raise AuditError(f"GET {KEYS_PATH}: no 'keys' list in the response")
    out = []
    for i, item in enumerate(listed):
        if not isinstance(item, dict):
            raise AuditError(f"GET {KEYS_PATH}: key {i} is not a JSON object")
        try:
            verifier = note.parse_verifier_key(item.get("key"))
        except (note.NoteError, AttributeError) as exc:
            raise AuditError(f"GET {KEYS_PATH}: key {i} is not a verifier key ({exc})") from None
        index, checkpoint = item.get("index"), item.get("checkpoint")
        if not (index is None or (type(index) is int and index >= 0)):
            raise AuditError(f"GET {KEYS_PATH}: key {i} has no leaf index")
        if not (checkpoint is None or isinstance(checkpoint, str)):
            raise AuditError(f"GET {KEYS_PATH}: key {i} has no checkpoint text")
        out.append((verifier, index, checkpoint))
    return out


def _check_extends(fetch: Fetch, old: _Seen | None, new: _Seen) -> None:
    """Raises AuditError unless the log at `new` extends the log verified at `old`."""
    if old is None:
        return
    if new.size < old.size:
        raise AuditError(
            f"rollback: the log's checkpoint has size {new.size}, smaller than the size "
            f"{old.size} verified before"
        )
    if new.size == old.size:
        if new.root != old.root:
            raise AuditError(
                f"fork: the checkpoint of size {new.size} has root {_b64(new.root)}, but root "
                f"{_b64(old.root)} was verified before for the same size"
            )
        return
    if old.size == 0:
        return  # every tree extends the empty one
    path = f"/log/proof/consistency?first={old.size}&second={new.size}"
    proof = [
        _decode_b64(h, path, f"hash {i}") for i, h in enumerate(_b64_list(fetch, path, "hashes"))
    ]
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise AuditError(f"GET {path}: hash {i} has {len(h)} bytes, not {HASH_SIZE}")
    try:
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except ProofError as exc:
        raise AuditError(
            f"the consistency proof from size {old.size} to {new.size} does not verify ({exc}): "
            "the log is not an extension of the one verified before"
        ) from None


def _read_leaves(fetch: Fetch, edge: CompactRange, tally: Tally, end: int) -> int:
    """Fetches leaves [edge.size, end), checks each as a record and appends it; returns how many."""
    read = 0
    while edge.size < end:
        start = edge.size
        stop = min(start + LEAVES_PER_REQUEST, end)
        path = f"/log/leaves?start={start}&end={stop}"
        leaves = _b64_list(fetch, path, "leaves")
        if not leaves:
            raise AuditError(f"GET {path}: no leaves, but the checkpoint has {end}")
        if len(leaves) > stop - start:
            raise AuditError(
                f"GET {path}: {len(leaves)} leaves, more than the {stop - start} asked for"
            )
        hashes = []
        for index, item in enumerate(leaves, start):
            data = _decode_b64(item, path, f"leaf {index}")
            try:
                record = records.decode(data)
            except ValueError as exc:
                raise AuditError(f"leaf {index} is not a valid registry record: {exc}") from None
            try:
                tally.add(record)
            except ValueError as exc:
                raise AuditError(f"leaf {index} breaks the registry's rules: {exc}") from None
            hashes.append(leaf_hash(data))
        edge.extend(hashes)
        read += len(leaves)
    return read


def _advance(fetch: Fetch, edge: CompactRange, tally: Tally, old: _Seen | None, new: _Seen) -> int:
    """Checks that `new` extends `old` and reads the leaves up to it; returns how many."""
    _check_extends(fetch, old, new)
    read = 0
    if old is not None and edge.size < old.size <= new.size:
        # --full: the leaves must also give the root verified before at its size.
        read += _read_leaves(fetch, edge, tally, old.size)
        _check_root(edge, old, "the checkpoint verified on an earlier run")
    read += _read_leaves(fetch, edge, tally, new.size)
    _check_root(edge, new, "the checkpoint")
    return read


def _key_after(tally: Tally, verifier: note.Verifier, seen: _Seen) -> note.Verifier:
    """The key to trust after a checkpoint signed by `verifier` and the leaves up to it.

    The same key, unless the leaves' last key record hands `verifier` over to another: a
    key record signed by the key trusted, in a checkpoint signed by the key trusted, is the
    one way trust moves on. A checkpoint signed by a key the leaves have retired fails.
    """
    if tally.key is None or tally.key == verifier.vkey:
        return verifier
    last = tally.key_changes[-1]
    if last.previous == verifier.vkey:
        return note.parse_verifier_key(last.key)
    raise AuditError(
        f"the checkpoint of size {seen.size} is signed by {_key_id(verifier)}, but the log's "
        f"key at that size is {records.key_label(tally.key)} (announced at leaf {last.index})"
    )


def _check_root(edge: CompactRange, seen: _Seen, what: str) -> None:
    computed = edge.root()
    if computed != seen.root:
        raise AuditError(
            f"the leaves the log serves do not hash to the root of {what} (size {seen.size}): "
            f"they give {_b64(computed)}, the checkpoint signs {_b64(seen.root)}"
        )


def _fetch_stats(fetch: Fetch) -> dict[str, Any]:
    stats = _get_json(fetch, STATS_PATH)
    size = stats.get("size")
    if type(size) is not int or size < 0:
        raise AuditError(f"GET {STATS_PATH}: no tree size ('size') in the published counts")
    return stats


_MISSING = object()


def _shown(value: object) -> str:
    return "nothing" if value is _MISSING else json.dumps(value, ensure_ascii=False)


def _compare_counts(published: Mapping[str, Any], tally: Tally) -> None:
    recount = tally.as_dict()
    differences = []
    for figure in ("declarations", "withdrawals", "active"):
        value = published.get(figure, _MISSING)
        if type(value) is not int or value != recount[figure]:
            differences.append(f"{figure}: published {_shown(value)}, recounted {recount[figure]}")
    for group in ("organisations", "provinces"):
        values = published.get(group, _MISSING)
        if not isinstance(values, dict):
            differences.append(
                f"{group}: published {_shown(values)}, recounted {_shown(recount[group])}"
            )
            continue
        # A code missing from either side counts as 0: a server may list every code.
        for code in sorted(set(values) | set(recount[group])):
            value, count = values.get(code, 0), recount[group].get(code, 0)
            if type(value) is not int or value != count:
                differences.append(f"{group}[{code}]: published {_shown(value)}, recounted {count}")
    if differences:
        shown = differences[:MAX_DIFFERENCES_SHOWN]
        if len(differences) > len(shown):
            shown.append(f"and {len(differences) - len(shown)} more")
        raise AuditError(
            f"the counts published at {STATS_PATH} (size {published['size']}) differ from a "
            f"recount of the log: {'; '.join(shown)}"
        )


# --- the state kept between runs ----------------------------------------------------------


@dataclass
class _State:
    verifier: note.Verifier
    checkpoint: _Seen
    edge: CompactRange
    tally: Tally


def _state_error(path: Path, problem: str) -> AuditError:
    return AuditError(
        f"the state file {path} is damaged ({problem}); move it away to audit from scratch "
        "(the log's key is then trusted anew)"
    )


def _load_state(path: Path) -> _State | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditError(f"cannot read the state file {path}: {exc}") from None
    try:
        data = json.loads(raw)
        if data["version"] != STATE_VERSION:
            raise ValueError(f"version {data['version']!r}, not {STATE_VERSION}")
        verifier = note.parse_verifier_key(data["key"])
        # A hand-over checkpoint may be signed only by the key before the one pinned.
        before = tuple(
            note.parse_verifier_key(c["previous"])
            for c in data.get("keys", [])[-1:]
            if c["key"] == verifier.vkey
        )
        seen = _open_checkpoint(
            data["checkpoint"]["note"], verifier, "the saved checkpoint", also=before
        )
        size = seen.size
        if data["checkpoint"]["size"] != size or data["checkpoint"]["root"] != _b64(seen.root):
            raise ValueError("the checkpoint's size and root are not those of its note")
        levels = [level for level, _ in root_coords(size)]
        hashes = [base64.b64decode(h, validate=True) for h in data["edge"]]
        if len(hashes) != len(levels):
            raise ValueError(f"a tree of size {size} has {len(levels)} edge nodes")
        edge = CompactRange(size, dict(zip(levels, hashes, strict=True)))
        if edge.root() != seen.root:
            raise ValueError("the tree edge does not hash to the checkpoint's root")
        receipts = {
            str(commitment): Receipt(
                int(r["index"]),
                tuple(r["organisations"]),
                str(r["province"]),
                r["withdrawn"] is True,
            )
            for commitment, r in data["receipts"].items()
        }
        changes = [
            KeyChange(int(c["index"]), str(c["previous"]), str(c["key"]))
            for c in data.get("keys", [])
        ]
        if changes and changes[-1].key != verifier.vkey:
            raise ValueError("the key pinned is not the one the last key record announced")
        tally = Tally.from_receipts(receipts, changes, key=verifier.vkey)
        if tally.size != size or tally.as_dict() != data["counts"]:
            raise ValueError("the receipts do not add up to the counts and size saved")
    except AuditError as exc:
        raise _state_error(path, str(exc)) from None
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise _state_error(path, f"{type(exc).__name__}: {exc}") from None
    return _State(verifier, seen, edge, tally)


def _save_state(path: Path, state: _State) -> None:
    """Writes the state to a temporary file beside path, then renames it over path."""
    data = {
        "version": STATE_VERSION,
        "key": state.verifier.vkey,
        "checkpoint": {
            "size": state.checkpoint.size,
            "root": _b64(state.checkpoint.root),
            "note": state.checkpoint.note,
        },
        "edge": [_b64(h) for _level, _index, h in state.edge.edge()],
        "counts": state.tally.as_dict(),
        "receipts": {
            commitment: {
                "index": r.index,
                "organisations": list(r.organisations),
                "province": r.province,
                "withdrawn": r.withdrawn,
            }
            for commitment, r in state.tally.receipts.items()
        },
        "keys": [
            {"index": c.index, "previous": c.previous, "key": c.key}
            for c in state.tally.key_changes
        ],
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise AuditError(f"cannot write the state file {path}: {exc}") from None


# --- the audit ----------------------------------------------------------------------------


def audit(
    fetch: Fetch, state_path: str | os.PathLike[str], *, key: str | None = None, full: bool = False
) -> AuditResult:
    """Checks the log `fetch` serves against what state_path remembers of it; saves the new state.

    key: the verifier key the log must have (otherwise the one pinned in the state, or on
    a first run the one the log serves), or have handed over from through its key records.
    full: fetch and check every leaf again, not only the new ones. Raises AuditError, and
    keeps the state as it was, on any inconsistency.
    """
    started = time.monotonic()
    path = Path(state_path)
    saved = _load_state(path)

    trusted_key, mismatch = None, "the log's key changed while it was audited"
    if key is not None:
        try:
            given = note.parse_verifier_key(key)
        except note.NoteError as exc:
            raise AuditError(f"the key given is not a verifier key ({exc})") from None
        if saved is not None and saved.verifier != given:
            handed_over = {c.previous for c in saved.tally.key_changes}
            if given.vkey not in handed_over:
                raise AuditError(
                    f"the state file {path} pins key {_key_id(saved.verifier)}, not the key given "
                    f"{_key_id(given)}: use another state file for another log"
                )
        trusted_key, mismatch = given, "the log's key is not the key given"
    if saved is not None:
        trusted_key = saved.verifier
        mismatch = f"the log's key changed since it was pinned in {path}"
    served = _fetch_key(fetch)
    verifier = trusted_key or served

    if saved is None:
        edge, tally = CompactRange(), Tally()
    elif full:
        changes = saved.tally.key_changes
        edge, tally = CompactRange(), Tally(changes[0].previous if changes else verifier.vkey)
    else:
        edge, tally = saved.edge, saved.tally
    trusted = saved.checkpoint if saved is not None else None
    new_leaves = 0
    followed: list[KeyChange] = []
    listing: list[tuple[note.Verifier, int | None, str | None]] | None = None

    def move_to(new: note.Verifier) -> None:
        followed.append(tally.key_changes[-1])
        nonlocal verifier
        verifier = new

    # A seal between reading the checkpoint and the counts makes them disagree on the size:
    # check the newer checkpoint once more before calling that a failure.
    for attempt in (1, 2):
        text = _get_text(fetch, "/log/checkpoint")
        while verifier != served and not _signed_by(text, verifier):
            # The latest checkpoint is not signed by the key trusted: find, through /log/keys,
            # the checkpoint where the log handed that key over to the next.
            if listing is None:
                try:
                    listing = _fetch_keys(fetch)
                except AuditError as exc:
                    raise AuditError(
                        f"{mismatch}: expected {_key_id(verifier)}, the log now serves "
                        f"{_key_id(served)} ({exc})"
                    ) from None
            handover = _handover(listing, verifier)
            if handover is None:
                raise AuditError(
                    f"{mismatch}: expected {_key_id(verifier)}, the log now serves "
                    f"{_key_id(served)}, and {KEYS_PATH} shows no hand-over from "
                    f"{_key_id(verifier)} to another key"
                )
            new, index, handover_note = handover
            where = f"GET {KEYS_PATH}: the hand-over from {_key_id(verifier)} to {_key_id(new)}"
            seen = _open_checkpoint(handover_note, verifier, where)
            new_leaves += _advance(fetch, edge, tally, trusted, seen)
            if _key_after(tally, verifier, seen) != new or tally.key_changes[-1].index != index:
                raise AuditError(
                    f"{where} (checkpoint of size {seen.size}) does not include a key record "
                    f"at leaf {index} from {_key_id(verifier)} to {_key_id(new)}"
                )
            move_to(new)
            trusted = seen
        checkpoint = _open_checkpoint(text, verifier, "GET /log/checkpoint")
        new_leaves += _advance(fetch, edge, tally, trusted, checkpoint)
        after = _key_after(tally, verifier, checkpoint)
        if after != verifier:
            move_to(after)
        trusted = checkpoint
        published = _fetch_stats(fetch)
        if published["size"] == checkpoint.size:
            break
        if attempt == 2:
            raise AuditError(
                f"the counts at {STATS_PATH} are for size {published['size']}, but the log's "
                f"checkpoint has size {checkpoint.size} (read twice)"
            )
    _compare_counts(published, tally)
    # Once more: a rotation between reading /log/key and the checkpoint is no failure.
    if verifier != served and _fetch_key(fetch) != verifier:
        raise AuditError(
            f"the log's key records hand its key over to {_key_id(verifier)}, but /log/key "
            f"serves {_key_id(served)}"
        )

    _save_state(path, _State(verifier, checkpoint, edge, tally))
    return AuditResult(
        key=verifier.vkey,
        size=checkpoint.size,
        root=checkpoint.root,
        counts=tally.as_dict(),
        previous_size=saved.checkpoint.size if saved is not None else None,
        new_leaves=new_leaves,
        elapsed=time.monotonic() - started,
        followed=tuple(followed),
    )


def _handover(
    listing: list[tuple[note.Verifier, int | None, str | None]], verifier: note.Verifier
) -> tuple[note.Verifier, int, str] | None:
    """The key listed after `verifier`, with its leaf and hand-over checkpoint, if any."""
    for (key, _i, _c), (new, index, checkpoint) in itertools.pairwise(listing):
        if key == verifier and index is not None and checkpoint is not None:
            return new, index, checkpoint
    return None


# --- HTTP ---------------------------------------------------------------------------------


class _SameHostHttpsRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to https on the same host (an http → https upgrade)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if new.scheme != "https" or new.hostname != old.hostname:
            raise AuditError(
                f"GET {req.full_url}: HTTP {code} redirect to {newurl}; only redirects to https "
                "on the same host are followed"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _read_body(response: Any, url: str) -> bytes:
    body = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise AuditError(f"GET {url}: the response is larger than {MAX_RESPONSE_BYTES} bytes")
    return bytes(body)


def http_fetcher(base_url: str, timeout: float = 30) -> Fetch:
    """A fetch for `audit` that GETs base_url + path with urllib.

    Non-200 answers are returned as they are (audit names the path and status); network
    errors and refused redirects raise AuditError.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuditError(f"{base_url!r} is not an http or https URL")
    if parts.query or parts.fragment:
        raise AuditError(f"{base_url!r}: the log's URL takes no query or fragment")
    base = base_url.rstrip("/")
    opener = urllib.request.build_opener(_SameHostHttpsRedirects)
    headers = {"User-Agent": "phonebank-registry-verify/1"}

    def fetch(path: str) -> tuple[int, str, bytes]:
        url = base + path
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked above)
        try:
            with opener.open(request, timeout=timeout) as response:
                content_type = response.headers.get("Content-Type", "")
                return response.status, content_type, _read_body(response, url)
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers.get("Content-Type", ""), b""
        except urllib.error.URLError as exc:
            raise AuditError(f"GET {url}: {exc.reason}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise AuditError(f"GET {url}: {type(exc).__name__}: {exc}") from None

    return fetch
