"""What a membership-inference attack is, what it is given, and the registry that names attacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from expunge.audit._shadows import ShadowSet
from expunge.datasets import Split
from expunge.errors import UnknownAttackError, unknown_name_message

__all__ = ["Attack", "AttackInputs", "available_attacks", "get_attack", "register_attack"]


@dataclass(frozen=True)
class AttackInputs:
    """Everything an attack may use besides the model under attack.

    Attributes:
        x: Samples to score, ``[n, ...]``.
        y: Their labels.
        ids: Their IDs.
        shadow_stats: ``[K, n]`` LiRA statistics of the shadow models on ``(x, y)``, or ``None``.
        shadow_losses: ``[K, n]`` shadow losses, or ``None``.
        shadow_in: ``[K, n]`` whether each shadow trained on each sample, or ``None``.
        known_members: Samples the attacker knows were trained on (for attacks that learn a threshold).
        known_nonmembers: Samples the attacker knows were not.
    """

    x: torch.Tensor
    y: torch.Tensor
    ids: np.ndarray
    shadow_stats: np.ndarray | None = None
    shadow_losses: np.ndarray | None = None
    shadow_in: np.ndarray | None = None
    known_members: tuple[torch.Tensor, torch.Tensor] | None = None
    known_nonmembers: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def from_splits(
        cls,
        members: Split,
        nonmembers: Split,
        *,
        shadows: ShadowSet | None = None,
        known_members: tuple[torch.Tensor, torch.Tensor] | None = None,
        known_nonmembers: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> AttackInputs:
        """Score ``members`` then ``nonmembers`` (in that order), with the shadows' statistics when given."""
        x, y = torch.cat([members.x, nonmembers.x]), torch.cat([members.y, nonmembers.y])
        ids = np.concatenate([members.ids, nonmembers.ids])
        return cls(
            x=x, y=y, ids=ids,
            shadow_stats=shadows.statistics(x, y) if shadows else None,
            shadow_losses=shadows.losses(x, y) if shadows else None,
            shadow_in=shadows.membership_of(ids) if shadows else None,
            known_members=known_members, known_nonmembers=known_nonmembers,
        )  # fmt: skip


class Attack:
    """Base of every attack: ``scores`` returns one number per sample, higher meaning "member".

    ``needs_shadows`` tells the audit to train (or load) shadow models before running it.
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    needs_shadows: ClassVar[bool] = False

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Return the membership score of each sample of ``inputs``."""
        raise NotImplementedError


_ATTACKS: dict[str, Callable[[], Attack]] = {}


def register_attack(name: str) -> Callable[[type[Attack]], type[Attack]]:
    """Register an attack class under a snake_case key that stays stable forever."""

    def decorate(cls: type[Attack]) -> type[Attack]:
        if name in _ATTACKS:
            raise ValueError(f"An attack named {name!r} is already registered.")
        cls.name = name
        _ATTACKS[name] = cls
        return cls

    return decorate


def _load_builtins() -> None:
    from expunge.audit.attacks import calibrated, confidence_svm, lira, loss_threshold  # noqa: F401


def available_attacks() -> list[str]:
    """Return every registered attack name, sorted."""
    _load_builtins()
    return sorted(_ATTACKS)


def get_attack(name: str) -> Attack:
    """Return a new instance of the attack registered under ``name``.

    Raises:
        UnknownAttackError: No such attack; the message lists the available ones.
    """
    _load_builtins()
    try:
        return _ATTACKS[name]()
    except KeyError:
        raise UnknownAttackError(unknown_name_message("attack", name, _ATTACKS)) from None
