"""The Merkle math against a naive transcription of RFC 9162 §2.1, over many sizes."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from expunge.evidence._merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


# The reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 as written, recursing over lists of leaf hashes.
def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = split(len(d))
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def test_hashes_are_domain_separated_as_rfc_9162_says():
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert Frontier().root() == EMPTY_ROOT == MerkleTree([]).root() == hashlib.sha256(b"").digest()


def test_a_known_answer_from_the_certificate_transparency_test_vectors():
    # RFC 6962's reference implementation tests: the root of the 8 leaves below, hashed as leaves.
    data = [
        bytes.fromhex(h)
        for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
    ]
    tree = MerkleTree([leaf_hash(x) for x in data])
    assert tree.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert tree.root(1).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert tree.root(3).hex() == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 80))
def test_the_frontier_and_the_tree_agree_with_the_reference_at_every_size(n):
    d = leaves(n)
    frontier = Frontier()
    for i, leaf in enumerate(d, start=1):
        frontier.append(leaf)
        assert frontier.root() == mth(d[:i])
    again = Frontier(frontier.size, frontier.hashes)
    assert again.root() == mth(d) == MerkleTree(d).root()
    tree = MerkleTree(d)
    for m in range(n + 1):
        assert tree.root(m) == mth(d[:m])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(0, n - 1))))
def test_inclusion_proofs_match_path_and_verify(args):
    n, size, index = args
    index = index % size
    d = leaves(n)
    tree = MerkleTree(d)
    proof = tree.inclusion_proof(index, size)
    assert proof == path(index, d[:size])
    root = mth(d[:size])
    assert verify_inclusion(index, size, d[index], proof, root)
    # Any other leaf, index or root, or a proof node changed: refused. (A size goes with its root: both
    # come from one signed checkpoint.)
    assert not verify_inclusion(index, size, leaf_hash(b"other"), proof, root)
    assert not verify_inclusion(index, size, d[index], proof, leaf_hash(b"root"))
    assert not verify_inclusion(size, size, d[index], proof, root)
    if size > 1:
        assert not verify_inclusion((index + 1) % size, size, d[index], proof, root)
        assert not verify_inclusion(index, size, d[index], proof[:-1], root)
        assert not verify_inclusion(index, size, d[index], [*proof, proof[0]], root)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = leaf_hash(b"x")
            assert not verify_inclusion(index, size, d[index], bad, root)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_consistency_proofs_match_proof_and_verify(args):
    n, m = args
    d = leaves(n)
    tree = MerkleTree(d)
    proof = tree.consistency_proof(m)
    assert proof == ([] if m in (0, n) else subproof(m, d, True))
    old, new = mth(d[:m]), mth(d)
    assert verify_consistency(m, n, old, new, proof)
    if m > 0:
        # A rewritten old tree, another old size, or a new root that does not extend it: refused.
        assert not verify_consistency(m, n, leaf_hash(b"old"), new, proof)
        assert not verify_consistency(m, n, old, leaf_hash(b"new"), proof)
        assert not verify_consistency(n + 1, n, old, new, proof)  # the log shrank
    if 0 < m < n:
        assert not verify_consistency(m, n, old, new, [])
        assert not verify_consistency(m, n, old, new, proof[:-1])
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = leaf_hash(b"x")
            assert not verify_consistency(m, n, old, new, bad)


def test_every_pair_of_small_sizes_is_consistent_and_every_leaf_included():
    d = leaves(33)
    tree = MerkleTree(d)
    for n in range(1, 34):
        for m in range(0, n + 1):
            assert verify_consistency(m, n, mth(d[:m]), mth(d[:n]), tree.consistency_proof(m, n)), (m, n)
        for i in range(n):
            assert verify_inclusion(i, n, d[i], tree.inclusion_proof(i, n), mth(d[:n])), (i, n)
