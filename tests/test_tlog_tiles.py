"""C2SP tiles: paths, and every root and proof rebuilt from tiles equals the in-memory tree's."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonebank.tlog import merkle, tiles


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]


def _tiled(batches: list[int]) -> tuple[dict, merkle.MemoryTree]:
    """Appends in the given batch sizes, keeping tiles the way the database does."""
    stored: dict = {}
    tree, reference = merkle.CompactRange(), merkle.MemoryTree()
    leaves = _leaves(sum(batches))
    pos = 0
    for size in batches:
        batch = leaves[pos : pos + size]
        current = {k: stored[k] for k in tiles.partial_keys(tree.size) if k in stored}
        stored.update(tiles.grown_tiles(tree.extend_levels(batch), current))
        reference.extend(batch)
        pos += size
    return stored, reference


@pytest.mark.parametrize(
    "index, path",
    [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067")],
)
def test_tile_index_paths(index, path):
    assert tiles.index_path(index) == path
    assert tiles.parse_tile_path(f"3/{path}") == (3, index, 256)
    assert tiles.parse_tile_path(f"entries/{path}.p/17") == (None, index, 17)
    assert tiles.tile_path(0, index, 17) == f"tile/0/{path}.p/17"


@pytest.mark.parametrize(
    "bad",
    [
        "0/x000/001",
        "0/01",
        "0/1234",
        "64/000",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/017",
        "01/000",
        "x/000",
        "",
    ],
)
def test_non_canonical_tile_paths_are_refused(bad):
    with pytest.raises(ValueError):
        tiles.parse_tile_path(bad)


def test_tree_size_70000_has_the_tiles_c2sp_describes():
    stored, _ = _tiled([70_000])
    widths = {key: len(h) // 32 for key, h in stored.items()}
    assert sum(1 for (level, _i), w in widths.items() if level == 0 and w == 256) == 273
    assert widths[(0, 273)] == 112 and widths[(1, 0)] == 256 and widths[(1, 1)] == 17
    assert widths[(2, 0)] == 1 and len(widths) == 277


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=6), st.data())
def test_roots_and_proofs_from_tiles_equal_the_memory_trees(batches, data):
    stored, reference = _tiled(batches)
    n = reference.size

    def get_nodes(coords):
        return tiles.nodes_from_tiles(coords, stored)

    m = data.draw(st.integers(min_value=1, max_value=n))
    index = data.draw(st.integers(min_value=0, max_value=m - 1))
    first = data.draw(st.integers(min_value=1, max_value=m))
    assert merkle.root(m, get_nodes=get_nodes) == reference.root(m)
    assert merkle.inclusion_proof(index, m, get_nodes=get_nodes) == reference.inclusion_proof(
        index, m
    )
    assert merkle.consistency_proof(first, m, get_nodes=get_nodes) == reference.consistency_proof(
        first, m
    )


def test_a_missing_or_short_tile_is_a_key_error():
    stored, _ = _tiled([300])
    short = {key: h[:32] for key, h in stored.items()}
    with pytest.raises(KeyError):
        tiles.nodes_from_tiles([(1, 5)], short)


def test_entry_bundles_round_trip_and_refuse_cut_data():
    entries = [b"", b"a", "自由".encode() * 100]
    bundle = tiles.bundle_append(b"", entries)
    assert tiles.bundle_entries(bundle) == entries
    assert tiles.bundle_entries(tiles.bundle_prefix(bundle, 2)) == entries[:2]
    with pytest.raises(ValueError):
        tiles.bundle_entries(bundle[:-1])
    with pytest.raises(ValueError):
        tiles.bundle_append(b"", [b"x" * 70_000])
