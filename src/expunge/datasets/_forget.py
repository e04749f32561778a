"""Forget sets: which training samples a model must forget, named by their global IDs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from expunge.datasets._base import Split
from expunge.errors import InvalidForgetSetError

__all__ = ["ForgetSet", "parse_forget_spec", "read_id_file", "write_id_file"]

_SPEC_HELP = (
    "class:K (every sample of class K), random:FRACTION (e.g. random:0.01), canaries (the planted canaries) "
    "or a file of IDs"
)


@dataclass(frozen=True)
class ForgetSet:
    """The IDs to forget and how they were chosen.

    Attributes:
        ids: Sorted unique ID strings, all members of the training split.
        kind: ``"class"``, ``"random"``, ``"canaries"`` or ``"ids"``.
        spec: The spec the set was built from, for reports.
        target_class: The forgotten class when the set is exactly one whole class (``class:K``, or an ID file
            listing every member of one class), else ``None``.
    """

    ids: tuple[str, ...]
    kind: str
    spec: str
    target_class: int | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def split(self, members: Split) -> tuple[Split, Split]:
        """Cut ``members`` into ``(forget, retain)`` splits by ID."""
        pos = members.positions(list(self.ids))
        mask = np.zeros(len(members), dtype=bool)
        mask[pos] = True
        return members.subset(np.flatnonzero(mask)), members.subset(np.flatnonzero(~mask))


def parse_forget_spec(spec: str, members: Split, *, num_classes: int, seed: int = 0) -> ForgetSet:
    """Build a forget set from ``class:K``, ``random:FRACTION``, ``canaries`` or the path of an ID file.

    Args:
        spec: The spec, see above.
        members: The samples the model was trained on; every forgotten ID must be one of them.
        num_classes: Number of classes, to validate ``class:K``.
        seed: Seed for ``random:`` draws.

    Raises:
        InvalidForgetSetError: The spec is malformed, names a class or fraction out of range, names IDs
            that are not training samples, or selects nothing.
    """
    text = spec.strip()
    if match := re.fullmatch(r"class:(-?\d+)", text):
        cls = int(match.group(1))
        if not 0 <= cls < num_classes:
            raise InvalidForgetSetError(f"The forget class must be an integer in [0, {num_classes - 1}]; got {cls}.")
        ids = members.ids[(members.y == cls).numpy()]
        return _checked(ids, kind="class", spec=text, target_class=cls)
    if match := re.fullmatch(r"random:(\S+)", text):
        try:
            fraction = float(match.group(1))
        except ValueError:
            fraction = float("nan")
        if not 0.0 < fraction < 1.0:
            raise InvalidForgetSetError(
                f"The random forget fraction must be a float in (0, 1); got {match.group(1)!r}."
            )
        count = max(1, round(fraction * len(members)))
        rng = np.random.default_rng(seed)
        ids = members.ids[np.sort(rng.choice(len(members), size=count, replace=False))]
        return _checked(ids, kind="random", spec=text)
    if text == "canaries":
        ids = np.array([i for i in members.ids.tolist() if i.startswith("canary:")], dtype=object)
        if len(ids) == 0:
            raise InvalidForgetSetError(
                "The forget spec 'canaries' needs planted canaries: none are in the training data."
            )
        return _checked(ids, kind="canaries", spec=text)
    path = Path(text)
    if path.is_file():
        ids = np.array(sorted(set(read_id_file(path))), dtype=object)
        labels = members.y[torch.from_numpy(members.positions(list(ids)))].unique()  # raises naming unknown IDs
        # An ID list that is exactly one whole class is class forgetting, whatever way it was written down.
        whole_class = len(labels) == 1 and int((members.y == labels[0]).sum()) == len(ids)
        return _checked(ids, kind="ids", spec=text, target_class=int(labels[0]) if whole_class else None)
    raise InvalidForgetSetError(f"Cannot read the forget spec {spec!r}: use {_SPEC_HELP}.")


def _checked(ids: np.ndarray, *, kind: str, spec: str, target_class: int | None = None) -> ForgetSet:
    unique = tuple(sorted(set(ids.tolist())))
    if not unique:
        raise InvalidForgetSetError(f"The forget set {spec!r} is empty: it selects no training sample.")
    return ForgetSet(ids=unique, kind=kind, spec=spec, target_class=target_class)


def read_id_file(path: Path | str) -> list[str]:
    """Read one ID per line (blank lines and ``#`` comments ignored).

    Raises:
        InvalidForgetSetError: The file is missing or holds no ID.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InvalidForgetSetError(f"Cannot read the ID file {str(path)!r}: {err.strerror}.") from err
    ids = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise InvalidForgetSetError(f"The ID file {str(path)!r} holds no ID (one ID per line expected).")
    return ids


def write_id_file(path: Path | str, ids: list[str] | tuple[str, ...]) -> None:
    """Write one ID per line."""
    Path(path).write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
