"""tlog.merkle: RFC 6962 / RFC 9162 hashing, roots, proofs, appends and verification.

Published vectors are read from ../shared/vectors (or $PHONEBANK_VECTORS); the tests that
need them skip when that folder is absent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from phonebank.tlog.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    ProofError,
    consistency_coords,
    consistency_proof,
    consistency_proof_size,
    inclusion_coords,
    inclusion_proof,
    inclusion_proof_size,
    leaf_hash,
    node_hash,
    root,
    root_coords,
    root_from_inclusion_proof,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(
    os.environ.get(
        "PHONEBANK_VECTORS", Path(__file__).resolve().parents[1] / ".." / "shared" / "vectors"
    )
)
MISSING = f"test vectors folder {VECTORS} is missing"
needs_vectors = pytest.mark.skipif(not VECTORS.is_dir(), reason=MISSING)


def _vector_files(kind: str) -> list:
    folder = VECTORS / kind
    if not folder.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="missing")]
    return [
        pytest.param(path, id=str(path.relative_to(folder)))
        for path in sorted(folder.rglob("*.json"))
    ]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(8, "big")) for i in range(n)]


# RFC 9162 section 2.1 straight from the recursive definitions, over a list of leaf hashes.
def _k(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*_ref_path(m, leaves[:k]), root_from_leaves(leaves[k:])]
    return [*_ref_path(m - k, leaves[k:]), root_from_leaves(leaves[:k])]


def _ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [root_from_leaves(leaves)]
    k = _k(n)
    if m <= k:
        return [*_ref_subproof(m, leaves[:k], whole), root_from_leaves(leaves[k:])]
    return [*_ref_subproof(m - k, leaves[k:], False), root_from_leaves(leaves[:k])]


# A tree shared by the property tests: built once, read at any size up to its own.
BIG = 4100
BIG_LEAVES = _leaves(BIG)
BIG_TREE = MemoryTree(BIG_LEAVES)


# --- hashing -----------------------------------------------------------------------------


def test_empty_root_is_the_hash_of_nothing():
    assert (
        hashlib.sha256(b"").digest() == EMPTY_ROOT == root(0, lambda *_: b"") == MemoryTree().root()
    )


@needs_vectors
def test_hasher_matches_the_published_golden_values():
    golden = json.loads((VECTORS / "misc_vectors.json").read_text())["rfc6962_hasher"]
    assert EMPTY_ROOT.hex() == golden["empty_tree_root_hex"]
    assert leaf_hash(b"").hex() == golden["leaf_hash_of_empty_input_hex"]
    assert leaf_hash(b"L123456").hex() == golden["leaf_hash_of_ascii_L123456_hex"]
    assert node_hash(b"N123", b"N456").hex() == golden["node_hash_of_ascii_N123_and_N456_hex"]


# --- the published proof probes ----------------------------------------------------------


@pytest.mark.parametrize("path", _vector_files("inclusion"))
def test_inclusion_probe(path):
    probe = json.loads(path.read_text())
    args = (
        _b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        [_b64(h) for h in probe["proof"] or []],
        _b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vector_files("consistency"))
def test_consistency_probe(path):
    probe = json.loads(path.read_text())
    args = (
        probe["size1"],
        probe["size2"],
        [_b64(h) for h in probe["proof"] or []],
        _b64(probe["root1"]),
        _b64(probe["root2"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# --- the 8-leaf reference tree -----------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    path = VECTORS / "rfc6962_reference_tree_8_leaves.json"
    if not path.is_file():
        pytest.skip(MISSING)
    data = json.loads(path.read_text())
    leaves = [leaf_hash(bytes.fromhex(x)) for x in data["leaf_inputs_hex"]]
    return data, leaves


def test_the_reference_tree_has_every_published_root_and_node(reference):
    data, leaves = reference
    tree = MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    for n, expected in enumerate(data["root_hashes_by_size_hex"]):
        assert tree.root(n).hex() == expected
        assert root_from_leaves(leaves[:n]).hex() == expected
        assert root(n, get_nodes=tree.get_nodes).hex() == expected
    for level, hashes in enumerate(data["node_hashes_by_level_hex"]):
        for index, expected in enumerate(hashes):
            assert tree.get_node(level, index).hex() == expected
    with pytest.raises(KeyError):
        tree.get_node(4, 0)


def test_every_reference_proof_matches_rfc_9162_and_verifies(reference):
    data, leaves = reference
    tree = MemoryTree(leaves)
    for n in range(1, 9):
        root_n = bytes.fromhex(data["root_hashes_by_size_hex"][n])
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == _ref_path(i, leaves[:n])
            verify_inclusion(leaves[i], i, n, proof, root_n)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == _ref_subproof(m, leaves[:n], True)
            root_m = bytes.fromhex(data["root_hashes_by_size_hex"][m])
            verify_consistency(m, n, proof, root_m, root_n)


def test_generated_proofs_equal_the_published_happy_paths(reference):
    _, leaves = reference
    tree = MemoryTree(leaves)
    checked = 0
    for path in sorted((VECTORS / "inclusion").rglob("happy-path.json")):
        probe = json.loads(path.read_text())
        if probe["treeSize"] <= 8 and _b64(probe["root"]) == tree.root(probe["treeSize"]):
            expected = [_b64(h) for h in probe["proof"] or []]
            assert tree.inclusion_proof(probe["leafIdx"], probe["treeSize"]) == expected
            checked += 1
    for path in sorted((VECTORS / "consistency").rglob("happy-path.json")):
        probe = json.loads(path.read_text())
        if probe["size2"] <= 8 and _b64(probe["root2"]) == tree.root(probe["size2"]):
            expected = [_b64(h) for h in probe["proof"] or []]
            assert tree.consistency_proof(probe["size1"], probe["size2"]) == expected
            checked += 1
    assert checked >= 6


# --- properties over random trees --------------------------------------------------------


@settings(max_examples=8, deadline=None)
@given(n=st.integers(min_value=1, max_value=BIG))
@example(n=BIG)
def test_every_leaf_proves_its_inclusion(n):
    root_n = BIG_TREE.root(n)
    for i in range(n):
        verify_inclusion(BIG_LEAVES[i], i, n, BIG_TREE.inclusion_proof(i, n), root_n)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_smaller_tree_is_proved_consistent(data):
    n = data.draw(st.integers(min_value=1, max_value=BIG), label="n")
    m = data.draw(st.integers(min_value=1, max_value=n), label="m")
    proof = BIG_TREE.consistency_proof(m, n)
    assert len(proof) == consistency_proof_size(m, n)
    verify_consistency(m, n, proof, BIG_TREE.root(m), BIG_TREE.root(n))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_proofs_match_the_recursive_definitions(data):
    n = data.draw(st.integers(min_value=1, max_value=300), label="n")
    leaves = BIG_LEAVES[:n]
    i = data.draw(st.integers(min_value=0, max_value=n - 1), label="i")
    m = data.draw(st.integers(min_value=1, max_value=n), label="m")
    assert BIG_TREE.root(n) == root_from_leaves(leaves)
    assert BIG_TREE.inclusion_proof(i, n) == _ref_path(i, leaves)
    assert BIG_TREE.consistency_proof(m, n) == _ref_subproof(m, leaves, True)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.integers(min_value=0, max_value=70), max_size=12))
def test_appending_in_any_batches_builds_the_same_tree(batches):
    tree = MemoryTree()
    one_by_one: dict[tuple[int, int], bytes] = {}
    batched: dict[tuple[int, int], bytes] = {}
    position = 0
    for size in batches:
        chunk = BIG_LEAVES[position : position + size]
        for level, index, h in tree.extend(chunk):
            assert (level, index) not in batched  # each node is reported exactly once
            batched[(level, index)] = h
        position += size
        assert tree.size == position
        assert tree.root() == root_from_leaves(BIG_LEAVES[:position])
    single = MemoryTree()
    for leaf in BIG_LEAVES[:position]:
        for level, index, h in single.append(leaf):
            one_by_one[(level, index)] = h
    assert batched == one_by_one
    # Exactly the complete subtrees: floor(n / 2^level) nodes on each level.
    expected = {
        (level, index)
        for level in range(max(position, 1).bit_length())
        for index in range(position >> level)
    }
    assert set(batched) == expected
    assert all(tree.get_node(level, index) == h for (level, index), h in batched.items())


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=0, max_value=BIG - 100), more=st.integers(0, 100))
def test_a_compact_range_appends_like_the_whole_tree(n, more):
    stored = MemoryTree(BIG_LEAVES[:n])
    edge = CompactRange.load(n, get_nodes=stored.get_nodes)
    assert edge.root() == stored.root()
    assert [(level, index) for level, index, _ in edge.edge()] == root_coords(n)
    new_leaves = BIG_LEAVES[n : n + more]
    assert edge.extend(new_leaves) == stored.extend(new_leaves)
    assert edge.size == n + more
    assert edge.root() == BIG_TREE.root(n + more)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_tampered_inclusion_proof_fails(data):
    n = data.draw(st.integers(min_value=2, max_value=BIG), label="n")
    i = data.draw(st.integers(min_value=0, max_value=n - 1), label="i")
    proof = BIG_TREE.inclusion_proof(i, n)
    root_n = BIG_TREE.root(n)
    # Not the size: (size, root) come as a pair from a signed checkpoint, and a proof for
    # one size can have the same shape as one for another.
    how = data.draw(st.sampled_from(["flip", "drop", "add", "index", "leaf"]))
    leaf, index = BIG_LEAVES[i], i
    if how == "flip":
        k = data.draw(st.integers(0, len(proof) - 1), label="k")
        bit = data.draw(st.integers(0, 255), label="bit")
        flipped = int.from_bytes(proof[k], "big") ^ (1 << bit)
        proof[k] = flipped.to_bytes(32, "big")
    elif how == "drop":
        proof.pop(data.draw(st.integers(0, len(proof) - 1), label="k"))
    elif how == "add":
        proof.insert(data.draw(st.integers(0, len(proof)), label="k"), root_n)
    elif how == "index":
        index = data.draw(st.integers(0, n - 1).filter(lambda j: j != i), label="index")
    else:
        leaf = BIG_LEAVES[(i + 1) % n]
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, n, proof, root_n)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_tampered_consistency_proof_fails(data):
    n = data.draw(st.integers(min_value=2, max_value=BIG), label="n")
    m = data.draw(st.integers(min_value=1, max_value=n - 1), label="m")
    proof = BIG_TREE.consistency_proof(m, n)
    root1, root2 = BIG_TREE.root(m), BIG_TREE.root(n)
    how = data.draw(st.sampled_from(["flip", "drop", "add", "root1", "root2"]))
    if how == "flip":
        k = data.draw(st.integers(0, len(proof) - 1), label="k")
        bit = data.draw(st.integers(0, 255), label="bit")
        proof[k] = (int.from_bytes(proof[k], "big") ^ (1 << bit)).to_bytes(32, "big")
    elif how == "drop":
        proof.pop(data.draw(st.integers(0, len(proof) - 1), label="k"))
    elif how == "add":
        proof.insert(data.draw(st.integers(0, len(proof)), label="k"), root1)
    elif how == "root1":
        root1 = BIG_TREE.root(data.draw(st.integers(1, BIG).filter(lambda s: s != m)))
    else:
        root2 = BIG_TREE.root(data.draw(st.integers(1, BIG).filter(lambda s: s != n)))
    with pytest.raises(ProofError):
        verify_consistency(m, n, proof, root1, root2)


# --- storage access ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_proofs_read_only_the_nodes_their_coords_name(data):
    n = data.draw(st.integers(min_value=1, max_value=BIG), label="n")
    i = data.draw(st.integers(min_value=0, max_value=n - 1), label="i")
    m = data.draw(st.integers(min_value=1, max_value=n), label="m")
    for coords, compute in [
        (root_coords(n), lambda **kw: root(n, **kw)),
        (inclusion_coords(i, n), lambda **kw: inclusion_proof(i, n, **kw)),
        (consistency_coords(m, n), lambda **kw: consistency_proof(m, n, **kw)),
    ]:
        assert len(set(coords)) == len(coords) <= 2 * math.log2(n) + 2
        reads, queries = [], []

        def get_node(level, index, reads=reads):
            reads.append((level, index))
            return BIG_TREE.get_node(level, index)

        def get_nodes(wanted, queries=queries):
            queries.append(list(wanted))
            return BIG_TREE.get_nodes(wanted)

        one_by_one = compute(get_node=get_node)
        assert sorted(reads) == sorted(coords)
        assert compute(get_nodes=get_nodes) == one_by_one
        assert queries == [coords]


def test_proof_arguments_out_of_range_are_refused():
    with pytest.raises(ValueError):
        inclusion_proof(5, 5, BIG_TREE.get_node)
    with pytest.raises(ValueError):
        inclusion_proof(-1, 5, BIG_TREE.get_node)
    with pytest.raises(ValueError):
        consistency_proof(0, 5, BIG_TREE.get_node)
    with pytest.raises(ValueError):
        consistency_proof(6, 5, BIG_TREE.get_node)
    with pytest.raises(ValueError):
        BIG_TREE.root(BIG + 1)
    with pytest.raises(TypeError):
        root(3)
    assert consistency_proof(5, 5, BIG_TREE.get_node) == []


def test_leaf_hashes_must_be_32_bytes():
    tree = MemoryTree()
    with pytest.raises(ValueError, match="leaf hash 1 has 31 bytes"):
        tree.extend([b"\0" * 32, b"\0" * 31])
    assert tree.size == 0
    with pytest.raises(ValueError):
        CompactRange(3, {0: b"\0" * 32})  # size 3 has edge nodes on levels 1 and 0


def test_a_node_that_is_not_complete_yet_does_not_exist():
    tree = MemoryTree(BIG_LEAVES[:5])
    assert tree.get_node(2, 0) == root_from_leaves(BIG_LEAVES[:4])
    for level, index in [(0, 5), (1, 2), (2, 1), (3, 0), (-1, 0)]:
        with pytest.raises(KeyError):
            tree.get_node(level, index)


def test_proof_sizes_agree_with_generated_proofs():
    for n in range(1, 70):
        for i in range(n):
            assert inclusion_proof_size(i, n) == len(
                inclusion_coords(i, n) and BIG_TREE.inclusion_proof(i, n)
            )
        for m in range(1, n + 1):
            assert consistency_proof_size(m, n) == len(BIG_TREE.consistency_proof(m, n))


def test_verification_explains_what_is_wrong():
    leaves = BIG_LEAVES[:8]
    tree = MemoryTree(leaves)
    proof = tree.inclusion_proof(5, 8)
    with pytest.raises(ProofError, match="not below tree size"):
        verify_inclusion(leaves[5], 8, 8, proof, tree.root())
    with pytest.raises(ProofError, match="not a 32-byte hash"):
        verify_inclusion(leaves[5][:31], 5, 8, proof, tree.root())
    with pytest.raises(ProofError, match="has 2 hashes; leaf 5 of 8 needs 3"):
        verify_inclusion(leaves[5], 5, 8, proof[:2], tree.root())
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(leaves[4], 5, 8, proof, tree.root())
    assert root_from_inclusion_proof(leaves[5], 5, 8, proof) == tree.root()
    with pytest.raises(ProofError, match="empty tree proves nothing"):
        verify_consistency(0, 8, [], EMPTY_ROOT, tree.root())
    with pytest.raises(ProofError, match="larger than"):
        verify_consistency(8, 3, [], tree.root(), tree.root(3))
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(3, 3, [], tree.root(), tree.root(3))
    with pytest.raises(ProofError, match="first root"):
        verify_consistency(3, 8, tree.consistency_proof(3, 8), tree.root(4), tree.root())
    verify_consistency(3, 3, [], tree.root(3), tree.root(3))
