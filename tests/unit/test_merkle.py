"""RFC 9162 Merkle tree: public test vectors, proofs from stored perfect nodes, and tampering."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from casework_verify import merkle
from casework_verify.merkle import CompactRange

H = bytes.fromhex

# transparency-dev/merkle test vectors (see /work/shared/testvectors/README.md)
LEAVES = [
    H(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = {
    0: H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    1: H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    2: H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    3: H("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    4: H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    5: H("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    6: H("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    7: H("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    8: H("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
}
PROOF_0_8 = [
    H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
    H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
    H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
]
INCLUSION = {
    (0, 8): PROOF_0_8,
    (5, 8): [
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ],
    (2, 3): [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")],
    (0, 1): [],
}
CONSISTENCY = {
    (1, 8): PROOF_0_8,
    (6, 8): [
        H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ],
    (2, 5): [
        H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ],
    (1, 1): [],
}


class Store:
    """Perfect-node table as the server keeps it, filled only from CompactRange.append."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.calls: list[set[tuple[int, int]]] = []
        self.frontier = CompactRange()
        for data in leaves:
            for level, index, h in self.frontier.append(merkle.leaf_hash(data)):
                assert (level, index) not in self.nodes
                self.nodes[(level, index)] = h

    def fetch(self, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        self.calls.append(set(wanted))
        return {node: self.nodes[node] for node in wanted}


def data(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") + b"leaf" for i in range(n)]


@pytest.fixture(scope="module")
def vectors() -> Store:
    return Store(LEAVES)


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def test_hash_constants() -> None:
    assert ROOTS[0] == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"") == ROOTS[1]
    assert merkle.mth([]) == ROOTS[0]


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_root_vectors(size: int) -> None:
    store = Store(LEAVES[:size])
    assert merkle.mth(LEAVES[:size]) == ROOTS[size]
    assert store.frontier.root() == ROOTS[size]
    assert merkle.root_hash(size, store.fetch) == ROOTS[size]
    assert merkle.fold([store.nodes[node] for node in merkle.root_plan(size)] or [ROOTS[0]]) == ROOTS[size]


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_vectors(vectors: Store, index: int, size: int) -> None:
    expected = INCLUSION[(index, size)]
    vectors.calls.clear()
    assert merkle.inclusion_proof(index, size, vectors.fetch) == expected
    assert len(vectors.calls) == (1 if expected else 0)
    assert merkle.verify_inclusion(merkle.leaf_hash(LEAVES[index]), index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("m", "n"), sorted(CONSISTENCY))
def test_consistency_vectors(vectors: Store, m: int, n: int) -> None:
    expected = CONSISTENCY[(m, n)]
    vectors.calls.clear()
    assert merkle.consistency_proof(m, n, vectors.fetch) == expected
    assert len(vectors.calls) == (1 if expected else 0)
    assert merkle.verify_consistency(m, n, ROOTS[m], ROOTS[n], expected)


RootOf = Callable[[int], bytes]


def inclusion_mutations(
    index: int, size: int, proof: list[bytes], root_of: RootOf
) -> list[tuple[int, int, list[bytes], bytes]]:
    """(index, size, proof, root) claims that must not verify for the true leaf.

    A wrong size is paired with that size's true root, as a signed checkpoint would give:
    RFC 9162 binds the size only through the root (see test_size_is_bound_through_the_root).
    """
    root = root_of(size)
    bad = [
        (index, size, proof, flip(root)),
        (index, size, proof + [proof[-1] if proof else root], root),
        (index, size, [root] + proof, root),
    ]
    bad += [(index, size, proof[:i] + [flip(p, i % 8)] + proof[i + 1 :], root) for i, p in enumerate(proof)]
    if proof:
        bad += [(index, size, proof[:-1], root), (index, size, proof[1:], root)]
    for s in {size - 1, size + 1, size * 2, size // 2}:
        if index < s != size:
            bad.append((index, s, proof, root_of(s)))
    for j in {index - 1, index + 1, 0, size - 1, size}:
        if j != index:
            bad.append((j, size, proof, root))
    return bad


def consistency_mutations(
    m: int, n: int, proof: list[bytes], root_of: RootOf
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    """(size1, size2, root1, root2, proof) claims that must not verify."""
    r1, r2 = root_of(m), root_of(n)
    bad = [(m, n, flip(r1), r2, proof), (m, n, r1, r2, proof + [r1]), (m, n, r1, r2, [r2] + proof)]
    if m:  # every tree extends the empty tree, whatever its root
        bad.append((m, n, r1, flip(r2), proof))
    if r1 != r2:
        bad.append((m, n, r2, r1, proof))
    bad += [(m, n, r1, r2, proof[:i] + [flip(p, 7)] + proof[i + 1 :]) for i, p in enumerate(proof)]
    if proof:
        bad += [(m, n, r1, r2, proof[:-1]), (m, n, r1, r2, proof[1:])]
    for s1, s2 in {(m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1), (m, 2 * n), (2 * m, 2 * n), (m // 2, n), (n, m)}:
        trivially_true = not proof and (s1 == 0 or s1 == s2)  # nothing to prove: roots decide
        if (s1, s2) != (m, n) and s1 >= 0 and s2 >= 0 and not trivially_true:
            bad.append((s1, s2, root_of(max(s1, 0)), root_of(max(s2, 0)), proof))
    return bad


VECTOR_DATA = LEAVES + data(20)[8:]


def vector_root(size: int) -> bytes:
    return ROOTS[size] if size in ROOTS else merkle.mth(VECTOR_DATA[:size])


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_vector_mutations_rejected(index: int, size: int) -> None:
    leaf = merkle.leaf_hash(LEAVES[index])
    for i, s, proof, root in inclusion_mutations(index, size, INCLUSION[(index, size)], vector_root):
        assert not merkle.verify_inclusion(leaf, i, s, proof, root), (i, s, len(proof))
    assert not merkle.verify_inclusion(flip(leaf), index, size, INCLUSION[(index, size)], ROOTS[size])


@pytest.mark.parametrize(("m", "n"), sorted(CONSISTENCY))
def test_consistency_vector_mutations_rejected(m: int, n: int) -> None:
    for mutation in consistency_mutations(m, n, CONSISTENCY[(m, n)], vector_root):
        assert not merkle.verify_consistency(*mutation), mutation[:2]


def test_swapped_roots_and_wrong_sizes_on_vectors() -> None:
    proof = CONSISTENCY[(6, 8)]
    assert not merkle.verify_consistency(6, 8, ROOTS[8], ROOTS[6], proof)
    assert not merkle.verify_consistency(5, 8, ROOTS[5], ROOTS[8], proof)
    assert not merkle.verify_consistency(6, 7, ROOTS[6], ROOTS[7], proof)
    assert not merkle.verify_inclusion(merkle.leaf_hash(LEAVES[5]), 5, 7, INCLUSION[(5, 8)], ROOTS[7])
    assert not merkle.verify_inclusion(merkle.leaf_hash(LEAVES[4]), 5, 8, INCLUSION[(5, 8)], ROOTS[8])


def test_size_is_bound_through_the_root() -> None:
    """RFC 9162 property: a proof checked against a root with a *different* size can pass.

    MTH(D[3]) = H(MTH(D[0:2]), leaf 2), so the (2, 3) path also "proves" index 1 of a
    2-leaf tree whose root is claimed to be ROOTS[3]. Callers must therefore always take
    size and root together from one signed checkpoint, never from separate sources.
    """
    assert merkle.verify_inclusion(merkle.leaf_hash(LEAVES[2]), 1, 2, INCLUSION[(2, 3)], ROOTS[3])
    assert not merkle.verify_inclusion(merkle.leaf_hash(LEAVES[2]), 1, 2, INCLUSION[(2, 3)], ROOTS[2])


def test_every_proof_up_to_40_verifies_and_mutations_fail() -> None:
    leaves = data(81)
    store = Store(leaves[:40])
    roots = [merkle.mth(leaves[:n]) for n in range(82)]
    for n in range(1, 41):
        for index in range(n):
            proof = merkle.inclusion_proof(index, n, store.fetch)
            leaf = merkle.leaf_hash(leaves[index])
            assert merkle.verify_inclusion(leaf, index, n, proof, roots[n]), (index, n)
            for i, s, bad, root in inclusion_mutations(index, n, proof, roots.__getitem__):
                assert not merkle.verify_inclusion(leaf, i, s, bad, root), (index, n, i, s)
    for n in range(41):
        for m in range(n + 1):
            proof = merkle.consistency_proof(m, n, store.fetch)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            for mutation in consistency_mutations(m, n, proof, roots.__getitem__):
                assert not merkle.verify_consistency(*mutation), (m, n, mutation[:2])


def test_consistency_edge_semantics() -> None:
    """m == 0 and m == n prove nothing: the proof is empty and only the roots are checked."""
    store = Store(data(5))
    root5 = store.frontier.root()
    assert merkle.consistency_proof(0, 5, store.fetch) == []
    assert merkle.consistency_proof(5, 5, store.fetch) == []
    assert merkle.consistency_proof(0, 0, store.fetch) == []
    assert store.calls == []
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root5, [])
    assert not merkle.verify_consistency(0, 5, root5, root5, [])
    assert not merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root5, [root5])
    assert merkle.verify_consistency(5, 5, root5, root5, [])
    assert not merkle.verify_consistency(5, 5, root5, flip(root5), [])
    assert not merkle.verify_consistency(5, 5, root5, root5, [root5])
    assert not merkle.verify_consistency(3, 5, merkle.mth(data(3)), root5, [])


def test_out_of_range_arguments() -> None:
    store = Store(data(5))
    for index, n in [(5, 5), (-1, 5), (0, 0)]:
        with pytest.raises(ValueError):
            merkle.inclusion_proof(index, n, store.fetch)
    for m, n in [(6, 5), (-1, 5)]:
        with pytest.raises(ValueError):
            merkle.consistency_proof(m, n, store.fetch)
    with pytest.raises(ValueError):
        merkle.root_plan(-1)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"x"), 5, 5, [], merkle.EMPTY_ROOT)
    assert not merkle.verify_consistency(6, 5, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"x"), 0, 2, [b"short"], merkle.EMPTY_ROOT)


def test_missing_stored_node_is_an_error() -> None:
    with pytest.raises(KeyError):
        merkle.root_hash(6, lambda wanted: {})


def test_compact_range_matches_reference_and_round_trips() -> None:
    leaves = data(70)
    cr = CompactRange()
    for n in range(71):
        assert cr.size == n
        assert cr.root() == merkle.mth(leaves[:n])
        blob = cr.to_bytes()
        assert len(blob) == 32 * (n).bit_count()
        copy = CompactRange.from_bytes(n, blob)
        assert copy.root() == cr.root() and copy.hashes == cr.hashes
        if n < 70:
            # a restored frontier keeps appending exactly like the original
            assert copy.append(merkle.leaf_hash(leaves[n])) == cr.append(merkle.leaf_hash(leaves[n]))
    pushed = CompactRange()
    for data_ in leaves:
        pushed.push(merkle.leaf_hash(data_))
    assert pushed.root() == cr.root() and pushed.to_bytes() == cr.to_bytes()


def test_compact_range_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        CompactRange.from_bytes(3, b"\x00" * 32)
    with pytest.raises(ValueError):
        CompactRange.from_bytes(-1, b"")
    with pytest.raises(ValueError):
        CompactRange().append(b"short")


def test_append_reports_every_perfect_node() -> None:
    leaves = data(37)
    store = Store(leaves)
    assert len(store.nodes) == 2 * 37 - (37).bit_count()
    for (level, index), h in store.nodes.items():
        assert h == merkle.mth(leaves[index << level : (index + 1) << level])
    first = CompactRange().append(merkle.leaf_hash(leaves[0]))
    assert first == [(0, 0, merkle.leaf_hash(leaves[0]))]


def test_fetch_once_with_logarithmic_nodes() -> None:
    store = Store(data(1000))
    rng = random.Random(9162)
    for n in range(1, 1001):
        bound = 2 * math.ceil(math.log2(n)) + 2
        picks = {0, n - 1, n // 2, rng.randrange(n), rng.randrange(n)}
        for index in picks:
            store.calls.clear()
            merkle.inclusion_proof(index, n, store.fetch)
            assert len(store.calls) <= 1
            assert all(len(c) <= bound for c in store.calls), (index, n)
        for m in picks | {n}:
            store.calls.clear()
            merkle.consistency_proof(m, n, store.fetch)
            assert len(store.calls) <= 1
            assert all(len(c) <= bound for c in store.calls), (m, n)
        store.calls.clear()
        merkle.root_hash(n, store.fetch)
        assert len(store.calls) == 1 and len(store.calls[0]) <= bound


def test_plan_bound_exhaustive_small_trees() -> None:
    for n in range(1, 257):
        bound = 2 * math.ceil(math.log2(n)) + 2
        for i in range(n + 1):
            if i < n:
                assert len({x for g in merkle.inclusion_plan(i, n) for x in g}) <= bound
            assert len({x for g in merkle.consistency_plan(i, n) for x in g}) <= bound
