"""C2SP tlog-tiles: how the tree is stored and served. Pure: no Django, no storage.

A tile at level L, index N holds the hashes of tree level 8·L, nodes 256·N … 256·N + 255:
the complete subtrees of 256^L leaves each. Every complete subtree of the tree is either
one of those hashes (its level is a multiple of 8) or is rebuilt from at most 128
consecutive hashes of one tile (levels 8·L + 1 … 8·L + 7). So a database keeps one row per
256 hashes, a proof at any size reads O(log n / 8) rows, and the same rows are the static
tiles the C2SP API serves (a partial tile of width W is the first W hashes of its row).

Entries are kept the same way: a bundle of up to 256 leaves, each prefixed with its length
as a big-endian uint16.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from phonebank.tlog.merkle import HASH_SIZE, Coord, node_hash

HEIGHT = 8
WIDTH = 1 << HEIGHT  # hashes in a full tile, entries in a full bundle
MAX_ENTRY_BYTES = 0xFFFF

TileKey = tuple[int, int]  # (tile level, tile index)


# --- paths --------------------------------------------------------------------------------


def index_path(index: int) -> str:
    """A tile index as zero-padded 3-digit path elements: 1234067 → x001/x234/067."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    parts = []
    while True:
        parts.append(f"{index % 1000:03d}")
        index //= 1000
        if not index:
            break
    return "/".join([*(f"x{p}" for p in reversed(parts[1:])), parts[0]])


def tile_path(level: int | str, index: int, width: int = WIDTH) -> str:
    """The path below the log prefix: tile/L/N[.p/W], or tile/entries/N[.p/W] for a bundle."""
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{level}/{index_path(index)}{suffix}"


_PATH = re.compile(
    r"(?P<level>entries|0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """(level or None for an entry bundle, index, width) of "L/N[.p/W]"; ValueError if not."""
    match = _PATH.fullmatch(path)
    if not match:
        raise ValueError("not a tile path")
    width = int(match["width"]) if match["width"] else WIDTH
    level = None if match["level"] == "entries" else int(match["level"])
    if (match["width"] and width >= WIDTH) or (level is not None and level > 63):
        raise ValueError("not a tile path")
    index = 0
    for part in match["index"].split("/"):
        index = index * 1000 + int(part.lstrip("x"))
    if index_path(index) != match["index"]:  # no leading x000/ elements
        raise ValueError("not a tile path")
    return level, index, width


# --- reading nodes from tiles -------------------------------------------------------------


def tile_of(level: int, index: int) -> tuple[TileKey, int, int]:
    """Where complete subtree (level, index) lives: its tile, first hash and hash count."""
    tile_level, sub = divmod(level, HEIGHT)
    first = index << sub
    return (tile_level, first >> HEIGHT), first & (WIDTH - 1), 1 << sub


def tiles_for(coords: Iterable[Coord]) -> set[TileKey]:
    return {tile_of(level, index)[0] for level, index in coords}


def _fold_up(hashes: list[bytes]) -> bytes:
    """The root of a perfect subtree over 2^k hashes."""
    while len(hashes) > 1:
        pairs = iter(hashes)
        hashes = [node_hash(a, b) for a, b in zip(pairs, pairs, strict=True)]
    return hashes[0]


def nodes_from_tiles(coords: Iterable[Coord], tiles: Mapping[TileKey, bytes]) -> dict[Coord, bytes]:
    """The hashes of complete subtrees, rebuilt from their tiles; KeyError when one is missing
    (its tile absent or not wide enough yet)."""
    out: dict[Coord, bytes] = {}
    for level, index in coords:
        key, first, count = tile_of(level, index)
        data = tiles.get(key, b"")
        start, end = first * HASH_SIZE, (first + count) * HASH_SIZE
        if len(data) < end:
            raise KeyError((level, index))
        out[(level, index)] = _fold_up(
            [data[i : i + HASH_SIZE] for i in range(start, end, HASH_SIZE)]
        )
    return out


# --- appending ----------------------------------------------------------------------------


def grown_tiles(
    chunks: Sequence[tuple[int, int, Sequence[bytes]]], current: Mapping[TileKey, bytes]
) -> dict[TileKey, bytes]:
    """The tiles an append changes, in full, from the levels it completed.

    `chunks` are (tree level, first index, new hashes) as `CompactRange.extend_levels`
    returns them; `current` holds the stored rightmost tile of each tile level touched
    (absent when none). Only levels that are multiples of 8 are stored.
    """
    out: dict[TileKey, bytearray] = {}
    for level, first, hashes in chunks:
        if level % HEIGHT:
            continue
        tile_level = level // HEIGHT
        position = first
        for h in hashes:
            key = (tile_level, position >> HEIGHT)
            data = out.get(key)
            if data is None:
                data = out[key] = bytearray(current.get(key, b""))
            if len(data) != (position & (WIDTH - 1)) * HASH_SIZE:
                raise ValueError(
                    f"tile {key} has {len(data) // HASH_SIZE} hashes, not {position & (WIDTH - 1)}"
                )
            data += h
            position += 1
    return {key: bytes(data) for key, data in out.items()}


def partial_keys(size: int) -> list[TileKey]:
    """The rightmost tile of each level that holds a hash at tree `size` (where an append
    adds hashes): one per level while 256^level ≤ size, and (0, 0) for an empty tree."""
    keys = [(0, size >> HEIGHT)]
    level = 1
    while size >> (HEIGHT * level):
        keys.append((level, size >> (HEIGHT * (level + 1))))
        level += 1
    return keys


# --- entry bundles ------------------------------------------------------------------------


def bundle_append(bundle: bytes, entries: Iterable[bytes]) -> bytes:
    out = bytearray(bundle)
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(f"a log entry has at most {MAX_ENTRY_BYTES} bytes")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def bundle_entries(bundle: bytes) -> list[bytes]:
    """The entries of a bundle; ValueError when it is cut short."""
    entries, i, n = [], 0, len(bundle)
    while i < n:
        if i + 2 > n:
            raise ValueError("entry bundle ends inside a length prefix")
        length = int.from_bytes(bundle[i : i + 2], "big")
        end = i + 2 + length
        if end > n:
            raise ValueError("entry bundle ends inside an entry")
        entries.append(bundle[i + 2 : end])
        i = end
    return entries


def bundle_prefix(bundle: bytes, count: int) -> bytes:
    """The first `count` entries of a bundle, still encoded (a partial bundle of width count)."""
    i = 0
    for _ in range(count):
        if i + 2 > len(bundle):
            raise ValueError("entry bundle has fewer entries")
        i += 2 + int.from_bytes(bundle[i : i + 2], "big")
    if i > len(bundle):
        raise ValueError("entry bundle has fewer entries")
    return bundle[:i]
