"""RFC 9162 section 2.1 Merkle tree over stored perfect subtrees.

The log never rebuilds its tree. It stores the hash of every *perfect* subtree, keyed by
``(level, index)``: node ``(k, j)`` is MTH of leaves ``[j * 2**k, (j + 1) * 2**k)`` and level 0
holds the leaf hashes. Every subtree that appears in a root or an RFC 9162 proof is
left-aligned, so its hash is the right fold of at most ``log2(n) + 1`` perfect nodes. The
``*_plan`` functions name those nodes, so a root or proof costs one storage read of O(log n)
rows; ``CompactRange`` keeps the right frontier that appending needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]
"""A perfect subtree: (level, index)."""
Fetch = Callable[[set[Node]], dict[Node, bytes]]
"""Returns the stored hash of every requested node (one storage query)."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash; the 0x00 prefix keeps leaves and inner nodes from colliding."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def fold(hashes: Sequence[bytes]) -> bytes:
    """Right fold: the MTH of a left-aligned range from its perfect nodes, largest first."""
    if not hashes:
        raise ValueError("cannot fold an empty list of hashes")
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


class CompactRange:
    """Right frontier of a tree of ``size`` leaves: enough to append and to compute the root.

    Holds one perfect-subtree hash per set bit of ``size``, largest (leftmost) first.
    """

    __slots__ = ("_hashes", "size")

    def __init__(self) -> None:
        self.size = 0
        self._hashes: list[bytes] = []

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return every perfect node it completes, starting with the leaf itself.

        The caller stores these rows; together they are all the nodes any proof will need.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        index = self.size
        completed = [(0, index, leaf)]
        h, level = leaf, 0
        while index & 1:
            h = node_hash(self._hashes.pop(), h)
            level += 1
            index >>= 1
            completed.append((level, index, h))
        self._hashes.append(h)
        self.size += 1
        return completed

    def push(self, leaf: bytes) -> None:
        """``append`` without reporting completed nodes: the hot path of streaming verification."""
        hashes = self._hashes
        n = self.size
        self.size = n + 1
        while n & 1:
            leaf = hashlib.sha256(b"\x01" + hashes.pop() + leaf).digest()
            n >>= 1
        hashes.append(leaf)

    def root(self) -> bytes:
        return fold(self._hashes) if self._hashes else EMPTY_ROOT

    def to_bytes(self) -> bytes:
        """The frontier as one blob (32 bytes per set bit of size), for a single-row store."""
        return b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> CompactRange:
        if size < 0:
            raise ValueError("size must be non-negative")
        count = size.bit_count()
        if len(blob) != count * HASH_SIZE:
            raise ValueError(f"frontier of size {size} needs {count * HASH_SIZE} bytes, got {len(blob)}")
        cr = cls()
        cr.size = size
        cr._hashes = [bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)]
        return cr


# --- planning: which stored nodes make up each hash -------------------------------------


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """Perfect nodes, largest first, whose right fold is MTH(D[start:end]).

    ``start`` must be a multiple of a power of two >= ``end - start`` (true of every subtree
    in the RFC 9162 recursion), so the binary decomposition of the size gives aligned nodes.
    """
    nodes: list[Node] = []
    pos, size = start, end - start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes


def root_plan(n: int) -> list[Node]:
    """Nodes whose right fold is the root of a tree of size n (empty for n == 0)."""
    if n < 0:
        raise ValueError("tree size must be non-negative")
    return range_nodes(0, n)


def inclusion_plan(index: int, n: int) -> list[list[Node]]:
    """For each hash of the RFC 9162 inclusion proof of leaf ``index`` in size ``n``: its nodes."""
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is not in a tree of size {n}")
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    return [range_nodes(a, b) for a, b in reversed(siblings)]


def consistency_plan(m: int, n: int) -> list[list[Node]]:
    """For each hash of the RFC 9162 consistency proof from size m to n: its nodes.

    Empty when m == 0 or m == n: every tree extends the empty tree, and a tree is consistent
    with itself, so there is nothing to prove (``verify_consistency`` then checks the roots).
    """
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m == 0 or m == n:
        return []
    parts: list[tuple[int, int]] = []
    lo, hi = 0, n
    whole = True  # SUBPROOF's b: the subtree is the whole old tree, whose root the client has
    while m < hi:
        k = _split(hi - lo)
        if m <= lo + k:
            parts.append((lo + k, hi))
            hi = lo + k
        else:
            parts.append((lo, lo + k))
            lo += k
            whole = False
    if not whole:
        parts.append((lo, hi))
    return [range_nodes(a, b) for a, b in reversed(parts)]


# --- building from storage ------------------------------------------------------------


def _resolve(plan: list[list[Node]], fetch: Fetch) -> list[bytes]:
    """Fetch every planned node in one call and fold each group."""
    wanted = {node for group in plan for node in group}
    if not wanted:
        return []
    found = fetch(wanted)
    missing = wanted - found.keys()
    if missing:
        raise KeyError(f"tree nodes not returned by fetch: {sorted(missing)[:5]}")
    return [fold([found[node] for node in group]) for group in plan]


def root_hash(n: int, fetch: Fetch) -> bytes:
    """Root of the tree of size n; EMPTY_ROOT for 0 without calling ``fetch``."""
    plan = root_plan(n)
    return _resolve([plan], fetch)[0] if plan else EMPTY_ROOT


def inclusion_proof(index: int, n: int, fetch: Fetch) -> list[bytes]:
    """RFC 9162 audit path; ``fetch`` is called at most once (not at all for n == 1)."""
    return _resolve(inclusion_plan(index, n), fetch)


def consistency_proof(m: int, n: int, fetch: Fetch) -> list[bytes]:
    """RFC 9162 consistency proof; empty (and no fetch) when m == 0 or m == n."""
    return _resolve(consistency_plan(m, n), fetch)


# --- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ----------------------------------------


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True iff ``proof`` shows the leaf hash at ``index`` in the tree of ``size`` with ``root``."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """True iff ``proof`` shows the tree (size2, root2) extends (size1, root1).

    size1 == size2 needs an empty proof and equal roots; size1 == 0 needs an empty proof and
    root1 == EMPTY_ROOT (any tree extends the empty one).
    """
    if not 0 <= size1 <= size2 or any(len(p) != HASH_SIZE for p in proof):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof and root1 == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # old tree is perfect: its root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
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
    return sn == 0 and fr == root1 and sr == root2


def mth(leaves: Sequence[bytes]) -> bytes:
    """Reference MTH over leaf *data* straight from RFC 9162 2.1.1 (tests only: O(n) memory)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = _split(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))
