"""What a membership-inference attack is, what it is given, and the registry that names attacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from expunge.audit._shadows import ShadowSet
from expunge.datasets import Split
from expunge.errors import UnknownAttackError
from expunge.models import ModelSpec, TrainConfig
from expunge.registry import Registry

__all__ = ["ATTACKS", "Attack", "AttackInputs", "available_attacks", "get_attack", "register_attack"]


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
            x=x,
            y=y,
            ids=ids,
            shadow_stats=shadows.statistics(x, y) if shadows else None,
            shadow_losses=shadows.losses(x, y) if shadows else None,
            shadow_in=shadows.membership_of(ids) if shadows else None,
            known_members=known_members,
            known_nonmembers=known_nonmembers,
        )


class Attack:
    """Base of every attack: ``scores`` returns one number per sample, higher meaning "member".

    ``needs_shadows`` tells the audit to train (or load) shadow models before running it. ``needs_method`` marks
    an attack that is given the unlearning method under test (:meth:`fit`) and compares the unlearned model
    with the retrained reference on the forget set, instead of members with non-members.
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    needs_shadows: ClassVar[bool] = False
    needs_method: ClassVar[bool] = False

    def scores(self, model: nn.Module, inputs: AttackInputs) -> np.ndarray:
        """Return the membership score of each sample of ``inputs``."""
        raise NotImplementedError

    def fit(
        self,
        *,
        pool: Split,
        forget: Split,
        spec: ModelSpec,
        recipe: TrainConfig,
        unlearn_fn: Callable[[nn.Module, Split, Split], nn.Module],
        key: str,
        k: int,
        seed: int,
        cache_dir: Path | None,
    ) -> float:
        """Prepare an attack that ``needs_method`` (train its shadows); return the seconds spent training.

        Args:
            pool: The samples shadow models draw from; it contains ``forget``.
            forget: The forget set the attack will score.
            spec: Architecture of the audited models.
            recipe: Their training recipe.
            unlearn_fn: The method under test, ``(model, forget, retain) -> model``.
            key: Identifies ``unlearn_fn`` (method and parameters) in the shadow cache.
            k: Number of shadow models (or pairs) to train.
            seed: Seed of the shadows' data draws and initialisations.
            cache_dir: Where shadow statistics are cached, or ``None``.
        """
        raise NotImplementedError(f"The {self.name} attack is not given the method under test.")


ATTACKS: Registry[type[Attack]] = Registry(
    "attack",
    unknown=UnknownAttackError,
    builtins=tuple(
        f"expunge.audit.attacks.{module}"
        for module in ("calibrated", "confidence_svm", "lira", "loss_threshold", "ulira")
    ),
)


def register_attack(name: str) -> Callable[[type[Attack]], type[Attack]]:
    """Register an attack class under a snake_case key that stays stable forever.

    Raises:
        DuplicateNameError: ``name`` is taken.
    """

    def decorate(cls: type[Attack]) -> type[Attack]:
        ATTACKS.add(name, cls)
        cls.name = name
        return cls

    return decorate


def available_attacks() -> list[str]:
    """Return every registered attack name, sorted."""
    return ATTACKS.names()


def get_attack(name: str) -> Attack:
    """Return a new instance of the attack registered under ``name``.

    Raises:
        UnknownAttackError: No such attack; the message lists the available ones.
    """
    return ATTACKS.get(name)()
