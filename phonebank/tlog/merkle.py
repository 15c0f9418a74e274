"""RFC 6962 / RFC 9162 Merkle tree: hashing, roots, proofs and their verification.

Pure: no Django, no storage. A tree of size n is described by its *complete subtrees*: the
node at coordinates (level, index) covers leaves [index·2^level, (index+1)·2^level) and
exists once all those leaves do. Level 0 holds the leaf hashes. This is the node set C2SP
tlog-tiles stores, and it is all a database has to keep: every root, inclusion proof and
consistency proof of any size n is computed here from O(log n) of those nodes, whose
coordinates the `*_coords` helpers list so that a caller can fetch them in one query.

The nodes on the right edge of a tree whose size is not a power of two (RFC 6962's
MTH(D[k:n])) are not stored: they change as the tree grows, so they are folded on the fly
from the complete subtrees they are made of (at most one such node per proof).

Appending needs only the tree's right edge, the complete subtrees of `root_coords(n)`:
`CompactRange` holds those and reports every node an append completes, which is exactly
the set of rows a database inserts. `MemoryTree` keeps all nodes in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Coord = tuple[int, int]  # (level, index) of a complete subtree
Node = tuple[int, int, bytes]  # (level, index, hash)
GetNode = Callable[[int, int], bytes]
GetNodes = Callable[[list[Coord]], Mapping[Coord, bytes]]

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof, or the sizes and hashes it is checked against, does not verify."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return _sha256(b"\x01" + left + right).digest()


# --- which complete subtrees a root or proof is made of ---------------------------------


def _split(size: int) -> int:
    """The largest power of two strictly below size (RFC 6962's k), for size >= 2."""
    return 1 << ((size - 1).bit_length() - 1)


def _range_coords(start: int, end: int) -> list[Coord]:
    """The complete subtrees, left to right, that make up the tree node over [start, end).

    start must be aligned as every node of an RFC 6962 tree is: a multiple of the largest
    power of two not above end - start.
    """
    coords = []
    size = end - start
    while size:
        level = size.bit_length() - 1
        coords.append((level, start >> level))
        start += 1 << level
        size -= 1 << level
    return coords


# A plan lists the hashes of a root or proof in order, each as either the coordinates of
# one complete subtree (a tuple) or the complete subtrees to fold into a right-edge node
# (a list). Proofs hold at most one list, so they read O(log n) nodes.
PlanItem = Coord | list[Coord]
Plan = list[PlanItem]


def _range_item(start: int, end: int) -> Coord | list[Coord]:
    size = end - start
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return (level, start >> level)
    return _range_coords(start, end)


def _inclusion_plan(index: int, n: int) -> Plan:
    """RFC 9162 PATH(index, D[n]) bottom up: each level's sibling, where there is one."""
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is not in a tree of size {n}")
    plan: Plan = []
    for level in range((n - 1).bit_length()):
        sibling = (index >> level) ^ 1
        begin = sibling << level
        if begin + (1 << level) <= n:
            plan.append((level, sibling))
        elif begin < n:  # the sibling is the right edge of the tree, not complete yet
            plan.append(_range_coords(begin, n))
    return plan


def _consistency_plan(m: int, n: int) -> Plan:
    """RFC 9162 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), unrolled; in proof order."""
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}: need 0 < m <= n")
    plan: Plan = []
    start, size, rest, whole = 0, n, m, True
    while rest != size:
        k = 1 << ((size - 1).bit_length() - 1)
        if rest <= k:
            plan.append(_range_item(start + k, start + size))
            size = k
        else:
            plan.append(_range_item(start, start + k))
            start += k
            size -= k
            rest -= k
            whole = False
    if not whole:
        plan.append(_range_item(start, start + size))
    plan.reverse()
    return plan


def _coords(plan: Sequence[PlanItem]) -> list[Coord]:
    coords: list[Coord] = []
    for item in plan:
        if isinstance(item, tuple):
            coords.append(item)
        else:
            coords.extend(item)
    return coords


def root_coords(n: int) -> list[Coord]:
    """Nodes that root(n) reads: the complete subtrees of the tree's right edge, largest first."""
    if n < 0:
        raise ValueError(f"tree size {n} is negative")
    return _range_coords(0, n)


def inclusion_coords(index: int, n: int) -> list[Coord]:
    """Nodes that inclusion_proof(index, n) reads (no duplicates)."""
    return _coords(_inclusion_plan(index, n))


def consistency_coords(m: int, n: int) -> list[Coord]:
    """Nodes that consistency_proof(m, n) reads (no duplicates)."""
    return _coords(_consistency_plan(m, n))


# --- computing roots and proofs from stored nodes -----------------------------------------


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Hash of a right-edge node from its complete subtrees, left to right (RFC 6962 MTH)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _reader(
    plan: Sequence[PlanItem], get_node: GetNode | None, get_nodes: GetNodes | None
) -> GetNode:
    if (get_node is None) == (get_nodes is None):
        raise TypeError("pass exactly one of get_node and get_nodes")
    if get_node is not None:
        return get_node
    table = get_nodes(_coords(plan))  # type: ignore[misc]

    def lookup(level: int, index: int) -> bytes:
        try:
            return table[(level, index)]
        except KeyError:
            raise KeyError(f"get_nodes did not return node ({level}, {index})") from None

    return lookup


def _hashes(
    plan: Sequence[PlanItem], get_node: GetNode | None, get_nodes: GetNodes | None
) -> list[bytes]:
    read = _reader(plan, get_node, get_nodes)
    return [
        read(*item) if isinstance(item, tuple) else _fold([read(*coord) for coord in item])
        for item in plan
    ]


def root(n: int, get_node: GetNode | None = None, *, get_nodes: GetNodes | None = None) -> bytes:
    """RFC 6962 MTH of the first n leaves, from the nodes root_coords(n) names."""
    if n == 0:
        return EMPTY_ROOT
    return _hashes([root_coords(n)], get_node, get_nodes)[0]


def inclusion_proof(
    index: int, n: int, get_node: GetNode | None = None, *, get_nodes: GetNodes | None = None
) -> list[bytes]:
    """RFC 9162 inclusion proof (PATH) of leaf `index` in the tree of size n."""
    return _hashes(_inclusion_plan(index, n), get_node, get_nodes)


def consistency_proof(
    m: int, n: int, get_node: GetNode | None = None, *, get_nodes: GetNodes | None = None
) -> list[bytes]:
    """RFC 9162 consistency proof (PROOF) from size m to size n; 0 < m <= n (empty when m == n)."""
    return _hashes(_consistency_plan(m, n), get_node, get_nodes)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 6962 MTH straight from its recursive definition: slow, a reference for tests."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaf_hashes[:k]), root_from_leaves(leaf_hashes[k:]))


# --- appending ----------------------------------------------------------------------------


def _check_leaf_hashes(leaf_hashes: Iterable[bytes]) -> list[bytes]:
    leaves = list(map(bytes, leaf_hashes))
    if set(map(len, leaves)) - {HASH_SIZE}:
        position = next(i for i, h in enumerate(leaves) if len(h) != HASH_SIZE)
        raise ValueError(f"leaf hash {position} has {len(leaves[position])} bytes, not {HASH_SIZE}")
    return leaves


def _grow(
    size: int, edge: dict[int, bytes], leaves: list[bytes]
) -> list[tuple[int, int, list[bytes]]]:
    """Appends leaves to a tree of `size` whose right edge is `edge` (level -> hash).

    Updates edge in place and returns, per level, (level, first index, new node hashes):
    every complete subtree the append creates, each exactly once. Only the edge node of a
    level can pair with a new node, so nothing else of the tree is read.
    """
    chunks = []
    level, first, new = 0, size, leaves
    sha = _sha256
    while new:
        chunks.append((level, first, new))
        seq = [edge[level], *new] if first & 1 else new
        if (first + len(new)) & 1:
            edge[level] = new[-1]
        else:
            edge.pop(level, None)
        # Consecutive pairs; an odd last node has no partner yet and stays on the edge.
        pairs = iter(seq)
        new = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        level += 1
        first >>= 1
    return chunks


def _nodes(chunks: list[tuple[int, int, list[bytes]]]) -> list[Node]:
    nodes: list[Node] = []
    for level, first, hashes in chunks:
        nodes.extend(zip(repeat(level), range(first, first + len(hashes)), hashes))
    return nodes


class CompactRange:
    """The right edge of a tree: all an appender needs to know of it.

    Load it with the nodes of root_coords(size), append leaf hashes, and insert the nodes
    each append returns: the store then holds every complete subtree of the grown tree.
    """

    __slots__ = ("_edge", "_size")

    def __init__(self, size: int = 0, edge: Mapping[int, bytes] | None = None):
        edge = dict(edge or {})
        expected = {level for level, _ in root_coords(size)}
        if set(edge) != expected or any(len(h) != HASH_SIZE for h in edge.values()):
            raise ValueError(f"a tree of size {size} has edge nodes at levels {sorted(expected)}")
        self._size = size
        self._edge = edge

    @classmethod
    def load(
        cls, size: int, get_node: GetNode | None = None, *, get_nodes: GetNodes | None = None
    ) -> CompactRange:
        """The right edge of a stored tree of `size`, read through get_node or get_nodes."""
        coords = root_coords(size)
        read = _reader(coords, get_node, get_nodes)
        return cls(size, {level: read(level, index) for level, index in coords})

    @property
    def size(self) -> int:
        return self._size

    def edge(self) -> list[Node]:
        """The edge nodes (level, index, hash), largest subtree first."""
        return [(level, index, self._edge[level]) for level, index in root_coords(self._size)]

    def root(self) -> bytes:
        return root(self._size, lambda level, _index: self._edge[level])

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Appends one leaf hash; returns the nodes it completes, the leaf first."""
        h = bytes(leaf_hash)
        if len(h) != HASH_SIZE:
            raise ValueError(f"leaf hash has {len(h)} bytes, not {HASH_SIZE}")
        edge, level, index = self._edge, 0, self._size
        nodes = [(0, index, h)]
        while index & 1:  # each trailing one of the size is an edge node the leaf completes
            h = node_hash(edge.pop(level), h)
            level += 1
            index >>= 1
            nodes.append((level, index, h))
        edge[level] = h
        self._size += 1
        return nodes

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Appends leaf hashes in order; returns the nodes completed, level by level."""
        return _nodes(self._extend(_check_leaf_hashes(leaf_hashes)))

    def extend_levels(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, list[bytes]]]:
        """Like extend, grouped by level: (level, first index, new hashes) per level."""
        return self._extend(_check_leaf_hashes(leaf_hashes))

    def _extend(self, leaves: list[bytes]) -> list[tuple[int, int, list[bytes]]]:
        chunks = _grow(self._size, self._edge, leaves)
        self._size += len(leaves)
        return chunks


class MemoryTree:
    """A whole tree in memory: 32 bytes per node, levels stored as contiguous buffers.

    Appends cost amortised O(1) node hashes per leaf (a tree of n leaves has n - 1 complete
    interior nodes at most); roots and proofs of any size up to the current one are
    computed from the stored nodes like those of a database.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()):
        self._range = CompactRange()
        self._levels: list[bytearray] = []
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Appends one leaf hash; returns the nodes (level, index, hash) it completes."""
        nodes = self._range.append(leaf_hash)
        levels = self._levels
        for level, _index, h in nodes:
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += h
        return nodes

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Appends leaf hashes in order; returns the nodes (level, index, hash) completed."""
        chunks = self._range._extend(_check_leaf_hashes(leaf_hashes))
        levels = self._levels
        for level, _first, hashes in chunks:
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += b"".join(hashes)
        return _nodes(chunks)

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of complete subtree (level, index); KeyError when it does not exist yet."""
        if level >= 0 and index >= 0:
            try:
                h = bytes(self._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])
            except IndexError:
                pass
            else:
                if len(h) == HASH_SIZE:
                    return h
        raise KeyError((level, index))

    def get_nodes(self, coords: Iterable[Coord]) -> dict[Coord, bytes]:
        return {coord: self.get_node(*coord) for coord in coords}

    def root(self, n: int | None = None) -> bytes:
        return root(self._n(n), self.get_node)

    def inclusion_proof(self, index: int, n: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._n(n), self.get_node)

    def consistency_proof(self, m: int, n: int | None = None) -> list[bytes]:
        return consistency_proof(m, self._n(n), self.get_node)

    def _n(self, n: int | None) -> int:
        if n is None:
            return self.size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} is not between 0 and {self.size}")
        return n


# --- verification (RFC 9162 section 2.1.3.2 and 2.1.4.2) --------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash ({size})")


def inclusion_proof_size(index: int, n: int) -> int:
    """Number of hashes in the inclusion proof of leaf `index` in a tree of size n."""
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is not in a tree of size {n}")
    inner = (index ^ (n - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_size(m: int, n: int) -> int:
    """Number of hashes in the consistency proof from size m to size n (0 < m <= n)."""
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}: need 0 < m <= n")
    if m == n:
        return 0
    level = (m & -m).bit_length() - 1
    index, last = (m - 1) >> level, (n - 1) >> level
    inner = (index ^ last).bit_length()
    return (index != 0) + inner + (index >> inner).bit_count()


def root_from_inclusion_proof(leaf: bytes, index: int, n: int, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` makes of leaf hash `leaf` at `index` in a tree of size n.

    Raises ProofError when the inputs cannot form a proof at all.
    """
    if not 0 <= index < n:
        raise ProofError(f"leaf index {index} is not below tree size {n}")
    _check_hash(leaf, "leaf hash")
    for position, p in enumerate(proof):
        _check_hash(p, f"proof hash {position}")
    expected = inclusion_proof_size(index, n)
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes; leaf {index} of {n} needs {expected}"
        )
    fn, sn = index, n - 1
    r = bytes(leaf)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, n: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Checks that leaf hash `leaf` is leaf `index` of the tree of size n with root `root_hash`.

    RFC 9162 section 2.1.3.2; raises ProofError saying why when it is not.
    """
    _check_hash(root_hash, "root hash")
    if root_from_inclusion_proof(leaf, index, n, proof) != root_hash:
        raise ProofError(f"inclusion proof of leaf {index} does not lead to the root of size {n}")


def verify_consistency(m: int, n: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Checks that the tree of size m with root1 is a prefix of the tree of size n with root2.

    RFC 9162 section 2.1.4.2 for 0 < m < n. A check from size 0 proves nothing and is
    refused; m == n needs an empty proof and equal roots; m > n is refused. Raises
    ProofError saying why.
    """
    if m < 0 or n < 0:
        raise ProofError(f"tree sizes {m} and {n} cannot be negative")
    if m > n:
        raise ProofError(f"first size {m} is larger than second size {n}")
    if m == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if m == n:
        if proof:
            raise ProofError(f"sizes are equal but the proof has {len(proof)} hashes, not 0")
        if root1 != root2:
            raise ProofError(f"sizes are equal ({m}) but the roots differ")
        return
    _check_hash(root1, "first root")
    _check_hash(root2, "second root")
    for position, p in enumerate(proof):
        _check_hash(p, f"proof hash {position}")
    expected = consistency_proof_size(m, n)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof has {len(proof)} hashes; from {m} to {n} needs {expected}"
        )
    # 1. An empty path fails (it cannot be: expected >= 1 when m < n).
    path = list(proof)
    if not path:
        raise ProofError("consistency proof is empty")
    # 2. When m is a power of two, the first tree is a complete subtree: its root starts the path.
    if m & (m - 1) == 0:
        path.insert(0, bytes(root1))
    # 3.-4.
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.-6.
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the root")
    if fr != root1:
        raise ProofError(f"consistency proof does not lead to the first root (size {m})")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the second root (size {n})")
