"""Merkle tree math of the audit log: RFC 9162 §2.1 hashes, inclusion and consistency proofs.

Pure functions over 32-byte SHA-256 digests, nothing stored. The tree over ``n`` leaves is the
RFC 6962 / 9162 Merkle Tree Hash (MTH): the leaf hash is ``SHA-256(0x00 || data)``, an interior
node is ``SHA-256(0x01 || left || right)``, and a tree of ``n > 1`` leaves splits at ``k``, the
largest power of two smaller than ``n``. The empty tree's hash is ``SHA-256("")``.

- :class:`Frontier` appends in O(log n): it keeps only the roots of the complete subtrees on the
  right edge (the binary decomposition of ``n``), enough to extend the tree and give its root.
- :class:`MerkleTree` holds every leaf hash and answers PATH (inclusion, §2.1.3.1) and PROOF
  (consistency, §2.1.4.1) in O(log² n) hashes after an O(n) build.
- :func:`verify_inclusion` and :func:`verify_consistency` are the verifier's algorithms of
  §2.1.3.2 and §2.1.4.2: they need only the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 §2.1.1 hash of a leaf: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 §2.1.1 hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Return the largest power of two smaller than ``n`` (``n >= 2``): where MTH splits n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The right edge of a Merkle tree: enough to append a leaf and compute the root in O(log n).

    ``hashes[i]`` is the root of the i-th complete subtree from the left; their sizes are the
    powers of two of the binary decomposition of ``size``, largest first (``size = 6`` → subtrees
    of 4 and 2 leaves).

    Args:
        size: Leaves in the tree.
        hashes: The subtree roots, one per set bit of ``size``, largest subtree first.

    Raises:
        ValueError: ``hashes`` does not have one 32-byte digest per set bit of ``size``.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != bin(size).count("1") or any(len(h) != 32 for h in hashes):
            raise ValueError(f"A frontier of {size} leaves needs {bin(max(size, 0)).count('1')} 32-byte hashes.")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash: merge equal-sized subtrees as a binary counter carries."""
        self.hashes.append(leaf)
        carry = self.size
        while carry & 1:  # each trailing 1 bit of the old size is a subtree the new leaf completes
            right = self.hashes.pop()
            self.hashes[-1] = node_hash(self.hashes[-1], right)
            carry >>= 1
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """Return the tree's MTH: the subtree roots folded from the right (§2.1.1's split, unrolled)."""
        if not self.hashes:
            return EMPTY_ROOT
        digest = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            digest = node_hash(left, digest)
        return digest

    def copy(self) -> Frontier:
        """Return an independent copy."""
        return Frontier(self.size, self.hashes)


class MerkleTree:
    """Every leaf hash of a log, with the complete subtrees hashed once, to prove against.

    Args:
        leaves: Leaf hashes (:func:`leaf_hash` of each entry), in log order.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        # levels[h][i] is the root of the complete subtree of 2**h leaves starting at leaf i * 2**h.
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    @property
    def size(self) -> int:
        """Leaves in the tree."""
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        """Return MTH of the first ``size`` leaves (default all): the root of that older tree."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"A tree of {self.size} leaves has no prefix of {size}.")
        return self._mth(0, size) if size else EMPTY_ROOT

    def _mth(self, lo: int, hi: int) -> bytes:
        """MTH of leaves ``[lo, hi)``; an aligned power-of-two range is one stored subtree."""
        n = hi - lo
        height = n.bit_length() - 1
        if n == 1 << height and lo % n == 0:
            return self.levels[height][lo >> height]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-side first.

        Raises:
            ValueError: ``index`` is not a leaf of the tree of ``size`` leaves.
        """
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"Leaf {index} is not in a tree of {size} leaves (of {self.size} stored).")
        proof: list[bytes] = []
        lo, hi = 0, size
        while hi - lo > 1:  # descend towards the leaf; each step's sibling goes before the ones above
            k = _split(hi - lo)
            if index < lo + k:
                proof.append(self._mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self._mth(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """Return PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1.

        Raises:
            ValueError: Not ``0 <= old_size <= size <= stored leaves``.
        """
        size = self.size if size is None else size
        if not 0 <= old_size <= size <= self.size:
            raise ValueError(f"No consistency proof from {old_size} to {size} leaves (of {self.size} stored).")
        if old_size in (0, size):
            return []
        return self._subproof(old_size, 0, size, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b) of §2.1.4.1, ``whole`` being b."""
        n = hi - lo
        if m == n:
            return [] if whole else [self._mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, whole), self._mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._mth(lo, lo + k)]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """Tell whether ``proof`` shows leaf hash ``leaf`` at ``index`` of the tree of ``size`` with ``root``.

    The verifier of RFC 9162 §2.1.3.2, step by step.
    """
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, size: int, old_root: bytes, root: bytes, proof: Sequence[bytes]) -> bool:
    """Tell whether ``proof`` shows the tree (``size``, ``root``) extends the tree (``old_size``, ``old_root``).

    The verifier of RFC 9162 §2.1.4.2, step by step; equal sizes need an empty proof and equal roots.
    An empty old tree is consistent with every tree (its proof is empty).
    """
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:  # right-shift both while the lowest bit of fn is set
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == root and sn == 0
