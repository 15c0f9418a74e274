"""Reads of the log: checkpoints, leaves, tiles and proofs, all from the stored tiles."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from phonebank.tlog import merkle, tiles
from phonebank.tlog.models import Bundle, Checkpoint, LogKey, Tile

MAX_LEAVES = 1000  # per /log/leaves request


class LogRangeError(ValueError):
    """A request names a leaf, size or range the log does not have."""


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def tree_size() -> int:
    """The published size: that of the latest checkpoint."""
    size = Checkpoint.objects.order_by("-size").values_list("size", flat=True).first()
    return size or 0


def stored_size() -> int:
    """Leaves stored, signed or not (equal to tree_size() outside a sealing transaction)."""
    last = Bundle.objects.order_by("-index").values_list("index", "count").first()
    return 0 if last is None else last[0] * tiles.WIDTH + last[1]


def tiles_read(keys: Iterable[tiles.TileKey]) -> dict[tiles.TileKey, bytes]:
    keys = set(keys)
    if not keys:
        return {}
    # One plain statement: building the same OR of Q objects cost ten times the query.
    q = connection.ops.quote_name
    where = " OR ".join([f"(level = %s AND {q('index')} = %s)"] * len(keys))
    sql = f"SELECT level, {q('index')}, hashes FROM {q(Tile._meta.db_table)} WHERE {where}"  # noqa: S608 - names quoted, values are parameters  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for key in keys for v in key])
        rows = cursor.fetchall()
    return {(level, index): bytes(hashes) for level, index, hashes in rows}


def nodes(coords: list[merkle.Coord]) -> dict[merkle.Coord, bytes]:
    """Complete subtree hashes by (level, index), rebuilt from the few tiles holding them."""
    return tiles.nodes_from_tiles(coords, tiles_read(tiles.tiles_for(coords)))


def _check_size(size: int, published: int | None = None) -> int:
    published = tree_size() if published is None else published
    if not 0 < size <= published:
        raise LogRangeError(f"tree size {size} is not between 1 and {published}")
    return published


def root(size: int) -> bytes:
    return merkle.root(size, get_nodes=nodes)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    _check_size(size)
    if not 0 <= index < size:
        raise LogRangeError(f"leaf index {index} is not below the tree size {size}")
    return merkle.inclusion_proof(index, size, get_nodes=nodes)


def consistency_proof(first: int, second: int) -> list[bytes]:
    _check_size(second)
    if not 0 < first <= second:
        raise LogRangeError(f"first size {first} is not between 1 and the second size {second}")
    return merkle.consistency_proof(first, second, get_nodes=nodes)


def leaves(start: int, end: int, *, size: int | None = None) -> list[bytes]:
    """The exact leaf data of leaves start … end - 1 (at most MAX_LEAVES, all published)."""
    size = tree_size() if size is None else size
    if not 0 <= start < end <= size:
        raise LogRangeError(f"the range {start}-{end} is not within the log's {size} leaves")
    if end - start > MAX_LEAVES:
        raise LogRangeError(f"at most {MAX_LEAVES} leaves per request")
    first, last = start // tiles.WIDTH, (end - 1) // tiles.WIDTH
    rows = Bundle.objects.filter(index__gte=first, index__lte=last).order_by("index")
    out: list[bytes] = []
    for row in rows.values_list("entries", flat=True):
        out.extend(tiles.bundle_entries(bytes(row)))
    offset = start - first * tiles.WIDTH
    return out[offset : offset + (end - start)]


def leaf(index: int) -> bytes:
    return leaves(index, index + 1)[0]


def tile(level: int, index: int, width: int) -> bytes | None:
    """A tile as C2SP serves it, or None when the published tree does not have it."""
    if not _tile_published(level, index, width):
        return None
    data = tiles_read([(level, index)]).get((level, index), b"")
    end = width * merkle.HASH_SIZE
    return data[:end] if len(data) >= end else None


def bundle(index: int, width: int) -> bytes | None:
    if not _tile_published(0, index, width):
        return None
    row = Bundle.objects.filter(index=index).values_list("entries", "count").first()
    if row is None or row[1] < width:
        return None
    return tiles.bundle_prefix(bytes(row[0]), width)


def _tile_published(level: int, index: int, width: int) -> bool:
    """Full tiles of the published tree, and partial ones whose width a checkpoint has
    (any size a checkpoint was made at; the latest one's are the usual request)."""
    span = tiles.WIDTH ** (level + 1)  # leaves a full tile at this level covers
    size = tree_size()
    if width == tiles.WIDTH:
        return (index + 1) * span <= size
    unit = tiles.WIDTH**level
    sizes = Checkpoint.objects.filter(
        size__gte=index * span + width * unit, size__lt=index * span + (width + 1) * unit
    )
    return sizes.exists()


def log_keys() -> list[LogKey]:
    """Every verifier key the log has signed with, oldest first, with where each took over."""
    return list(LogKey.objects.select_related("checkpoint").order_by("id"))


def log_key_announced() -> str | None:
    """The verifier key the log has in force, as recorded at its first checkpoint or at the
    last rotation; None before any."""
    return LogKey.objects.order_by("-id").values_list("vkey", flat=True).first()
