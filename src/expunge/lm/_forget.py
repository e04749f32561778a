"""What an LM forgetting method is, what it is given, the checks before any weight changes, and its registry.

A method takes a model holding an adapter (a ``PeftModel``, or a :class:`~expunge.lm._sisa.SisaEnsemble` for
``sisa``) and an :class:`LMForgetData`, and returns an :class:`LMForgetResult` with the forgetting model and the
adapter's next manifest. :func:`check_lm_forget_data` runs first: a forget set naming samples the adapter never
learnt is refused in one sentence (forgetting what was never learnt proves nothing), and parameters out of range
were already refused when the method was built (:class:`~expunge.unlearn.MethodParams`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from expunge.errors import (
    InvalidForgetSetError,
    InvalidParameterError,
    LMForgetError,
    SamplesNotLearntError,
    UnknownMethodError,
)
from expunge.lm._adapters import AdapterManifest
from expunge.lm._data import QA, LMSplit
from expunge.registry import Registry
from expunge.unlearn import MethodParams, method_registrar

__all__ = [
    "LMForgetData",
    "LMForgetResult",
    "LMMethod",
    "available_lm_methods",
    "check_lm_forget_data",
    "get_lm_method",
    "make_lm_method",
    "register_lm_method",
]

ANCHOR_RETAIN = 16  # retained questions added to the world facts in the anchor set


@dataclass(frozen=True)
class LMForgetData:
    """What an LM method may use to forget.

    Attributes:
        tokenizer: The base model's tokenizer.
        forget: Samples to forget (questions and the trained answers).
        retain: The adapter's other training samples: the retain loss of approximate methods, and what exact
            methods retrain on.
        anchor: Anchor prompts whose answer distributions must stay where the original put them (KL regulariser).
        reference: Questions about people the model never saw: the level the oracle-free stopping rule aims at.
        manifest: What the adapter learnt (``None`` only for a :class:`~expunge.lm._sisa.SisaEnsemble`, whose
            shards carry their own).
        adapter_name: The adapter inside the ``PeftModel`` that is changed.
    """

    tokenizer: Any
    forget: tuple[QA, ...]
    retain: tuple[QA, ...] = ()
    anchor: tuple[QA, ...] = ()
    reference: tuple[QA, ...] = ()
    manifest: AdapterManifest | None = None
    adapter_name: str = "default"

    @classmethod
    def from_split(
        cls,
        split: LMSplit,
        tokenizer: Any,
        *,
        manifest: AdapterManifest | None = None,
        adapter_name: str = "default",
        validation: bool = False,
        anchor_retain: int = ANCHOR_RETAIN,
    ) -> LMForgetData:
        """Build the forget data of a benchmark split: its forget people's questions and canary samples.

        With ``validation=True`` the *validation* forget people are forgotten instead (dose tuning), and retained
        samples exclude them. The anchor set is the world facts plus ``anchor_retain`` retained questions drawn
        with the split's seed.
        """
        train = split.train
        people = set(qa.person_id for qa in split.validation_forget) if validation else set(split.forget_people)
        forget = tuple(qa for qa in train + (split.validation_forget if validation else ()) if qa.person_id in people)
        forget = tuple(dict((qa.sample_id, qa) for qa in forget).values())
        retain = tuple(qa for qa in train if qa.person_id not in people)
        rng = random.Random(split.seed)
        anchor_pool = [qa for qa in split.retain if qa.person_id not in people]
        anchor = split.world + tuple(rng.sample(anchor_pool, min(anchor_retain, len(anchor_pool))))
        return cls(
            tokenizer=tokenizer,
            forget=forget,
            retain=retain,
            anchor=anchor,
            reference=split.reference,
            manifest=manifest,
            adapter_name=adapter_name,
        )

    @property
    def forget_ids(self) -> set[str]:
        """IDs of the samples to forget."""
        return {qa.sample_id for qa in self.forget}


@dataclass
class LMForgetResult:
    """What a method returns.

    Attributes:
        model: The model after forgetting (the same object when changed in place).
        manifest: The adapter's next manifest (version + 1, ``parent`` set, forgotten IDs removed), or ``None``
            for a SISA ensemble (see its shards' manifests).
        steps: Optimiser steps taken (0 for exact methods that retrain, which report their own cost).
        stopped_early: The oracle-free stopping rule ended the run before its maximum dose.
        trace: The stopping statistic over steps: dicts with ``step``, ``forget`` and ``reference`` levels.
        details: Method-specific figures (SISA's shards retrained and work fraction, …).
    """

    model: Any
    manifest: AdapterManifest | None
    steps: int = 0
    stopped_early: bool = False
    trace: list[dict[str, float]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def check_lm_forget_data(model: Any, data: LMForgetData, *, method: LMMethod | None = None) -> None:
    """Check an LM forget request against the model before any weight changes.

    Raises:
        InvalidForgetSetError: An empty forget set, a sample ID twice, or one both forgotten and retained.
        SamplesNotLearntError: Samples to forget that the adapter never learnt (all of them are named, up to 5).
        LMForgetError: The model has no such adapter, or the method needs anchors or reference people it was not given.
    """
    from expunge.lm._sisa import SisaEnsemble

    if not data.forget:
        raise InvalidForgetSetError("The forget set is empty: give at least one sample to forget.")
    ids = [qa.sample_id for qa in data.forget]
    if len(set(ids)) != len(ids):
        raise InvalidForgetSetError("The forget set names a sample ID twice; give each sample once.")
    both = sorted(set(ids) & {qa.sample_id for qa in data.retain})
    if both:
        raise InvalidForgetSetError(
            f"{len(both)} sample(s) are both forgotten and retained, e.g. {both[0]!r}: a sample is one or the other."
        )
    if isinstance(model, SisaEnsemble):
        learnt = set(model.sample_ids)
        owner = "the SISA ensemble"
    else:
        if data.adapter_name not in getattr(model, "peft_config", {}):
            raise LMForgetError(
                f"The model has no adapter {data.adapter_name!r}; LM methods change adapter weights only, so give a "
                "model with the adapter attached."
            )
        if data.manifest is None:
            raise LMForgetError(
                "The adapter's manifest is missing: without it no one can tell what the adapter learnt."
            )
        learnt = set(data.manifest.sample_ids)
        owner = f"adapter {data.manifest.adapter_id!r}"
    unknown = sorted(set(ids) - learnt)
    if unknown:
        shown = ", ".join(map(repr, unknown[:5])) + (", …" if len(unknown) > 5 else "")
        raise SamplesNotLearntError(
            f"{len(unknown)} of the {len(ids)} samples to forget were never learnt by {owner} ({shown}); forgetting "
            "them would prove nothing: remove them, or forget them from the adapter that learnt them."
        )
    if method is not None:
        method.check(model, data)


class LMMethod:
    """Base of every LM method: a registry key, a paper, a Params dataclass and :meth:`unlearn`.

    Subclasses set ``paper``, ``exact`` and ``Params`` and implement :meth:`unlearn`, which may change the model in
    place (callers keep :func:`~expunge.lm._adapters.adapter_state` to go back).
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    exact: ClassVar[bool] = False
    Params: ClassVar[type[MethodParams]] = MethodParams

    def __init__(self, params: MethodParams | None = None, **overrides: Any) -> None:
        if params is not None and overrides:
            raise InvalidParameterError(f"Give {self.name} either a Params object or keyword overrides, not both.")
        if params is None:
            params = self.Params.from_mapping(overrides)
        elif not isinstance(params, self.Params):
            raise InvalidParameterError(
                f"{self.name} takes {self.Params.__name__}; got {type(params).__name__} instead."
            )
        self.params = params

    def check(self, model: Any, data: LMForgetData) -> None:
        """Method-specific checks of :func:`check_lm_forget_data` (override; raise before any weight changes)."""

    def forget(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Check ``data`` against ``model`` (see :func:`check_lm_forget_data`), then run :meth:`unlearn`."""
        check_lm_forget_data(model, data, method=self)
        return self.unlearn(model, data, seed=seed)

    def unlearn(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Make ``model`` forget ``data.forget``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


LM_METHODS: Registry[type[LMMethod]] = Registry(
    "LM forgetting method", unknown=UnknownMethodError, builtins=("expunge.lm.methods",)
)


register_lm_method = method_registrar(LM_METHODS)


def available_lm_methods() -> list[str]:
    """Return every registered LM method name, sorted."""
    return LM_METHODS.names()


def get_lm_method(name: str) -> type[LMMethod]:
    """Return the LM method class registered under ``name``.

    Raises:
        UnknownMethodError: No such method; the message lists the available ones.
    """
    return LM_METHODS.get(name)


def make_lm_method(name: str, params: dict[str, Any] | None = None) -> LMMethod:
    """Build a registered LM method with parameter overrides (validated)."""
    return get_lm_method(name)(**(params or {}))
