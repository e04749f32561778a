"""What an unlearning method is, what it is given, and the registry that names methods."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from expunge.datasets import Split
from expunge.errors import (
    InvalidForgetSetError,
    InvalidParameterError,
    MethodError,
    ModelError,
    UnknownMethodError,
)
from expunge.models import TrainConfig
from expunge.registry import Registry
from expunge.unlearn._params import MethodParams

__all__ = [
    "ForgetData",
    "check_forget_data",
    "UnlearningMethod",
    "available_methods",
    "cycle",
    "get_method",
    "make_method",
    "method_registrar",
    "register_method",
]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class ForgetData:
    """What a method may use to forget.

    Attributes:
        forget: Re-iterable ``(x, y)`` batches of the samples to forget (e.g. a ``DataLoader``).
        retain: Re-iterable ``(x, y)`` batches of the remaining training samples.
        num_classes: Number of classes of the model.
        target_class: The forgotten class when a whole class is forgotten, else ``None``.
        train_config: The recipe the original model was trained with (exact methods retrain with it).
        model_factory: Builds a freshly initialised model of the same architecture (exact methods).
        holdout: Samples of the training distribution the model never saw (the validation split), for methods
            that calibrate on unseen data; never the audit's held-out samples or the test set.
    """

    forget: Batches
    retain: Batches
    num_classes: int
    target_class: int | None = None
    train_config: TrainConfig | None = None
    model_factory: Callable[[], nn.Module] | None = None
    holdout: Batches | None = None

    @classmethod
    def from_splits(
        cls,
        forget: Split,
        retain: Split,
        *,
        num_classes: int,
        batch_size: int = 128,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> ForgetData:
        """Build forget data from ID-carrying splits, refusing a forget set that overlaps the retained one.

        Raises:
            InvalidForgetSetError: The forget split is empty or shares IDs with the retain split.
        """
        if len(forget) == 0:
            raise InvalidForgetSetError("The forget set is empty: give at least one sample to forget.")
        overlap = sorted(set(forget.ids.tolist()) & set(retain.ids.tolist()))
        if overlap:
            shown = ", ".join(map(repr, overlap[:5]))
            raise InvalidForgetSetError(
                f"{len(overlap)} ID(s) are both forgotten and retained: {shown}. A sample is one or the other."
            )
        return cls(
            forget=forget.batches(batch_size, shuffle=True, generator=generator),
            retain=retain.batches(batch_size, shuffle=True, generator=generator),
            num_classes=num_classes,
            **options,
        )


def check_forget_data(model: nn.Module, data: ForgetData) -> None:
    """Check the first forget, retain and holdout batches against the model before any weight changes.

    Raises:
        InvalidForgetSetError: The forget batches are empty.
        ModelError: Inputs the model cannot take, labels that are not int64 class indices in
            ``[0, num_classes)``, or a model whose output does not have ``num_classes`` logits.
    """
    if data.num_classes < 2:
        raise ModelError(f"num_classes must be at least 2; got {data.num_classes}.")
    named = [("forget", data.forget), ("retain", data.retain)]
    if data.holdout is not None:
        named.append(("holdout", data.holdout))
    for name, batches in named:
        # Peeking must not consume randomness: a shuffling loader draws its order from its generator.
        generator = getattr(batches, "generator", None)
        state = generator.get_state() if isinstance(generator, torch.Generator) else None
        batch = next(iter(batches), None)
        if state is not None:
            generator.set_state(state)
        if batch is None:
            if name == "forget":
                raise InvalidForgetSetError("The forget set is empty: give at least one sample to forget.")
            continue
        x, y = batch
        if y.dtype != torch.int64 or y.ndim != 1 or len(y) != len(x):
            raise ModelError(
                f"{name} labels must be a 1-D int64 tensor as long as the batch; got dtype {y.dtype}, "
                f"shape {tuple(y.shape)} for {len(x)} samples."
            )
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= data.num_classes):
            raise ModelError(
                f"{name} labels must be class indices in [0, {data.num_classes - 1}]; got values from "
                f"{int(y.min())} to {int(y.max())}."
            )
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(x[:2])
        except RuntimeError as err:
            raise ModelError(
                f"The model cannot take the {name} inputs of shape {tuple(x.shape[1:])}: {str(err).splitlines()[0]}"
            ) from err
        finally:
            model.train(was_training)
        if out.ndim != 2 or out.shape[1] != data.num_classes:
            raise ModelError(
                f"The model must output [batch, {data.num_classes}] logits; it output shape {tuple(out.shape)}."
            )


class UnlearningMethod:
    """Base of every method: a registry key, a paper, a Params dataclass and :meth:`unlearn`.

    Subclasses set ``name`` (via :func:`register_method`), ``paper``, ``exact`` and ``Params`` and
    implement :meth:`unlearn`, which may modify ``model`` in place: the caller passes a copy.
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

    def forget(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Check ``data`` against ``model`` (see :func:`check_forget_data`), then run :meth:`unlearn`.

        The front door for library callers: bad shapes or labels fail here with one clear sentence, before any
        weight changes, instead of deep inside a training loop.
        """
        check_forget_data(model, data)
        return self.unlearn(model, data, generator=generator)

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Make ``model`` forget ``data.forget`` and return it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


M = TypeVar("M")

METHODS: Registry[type[UnlearningMethod]] = Registry(
    "unlearning method", unknown=UnknownMethodError, builtins=("expunge.unlearn.methods",)
)


def method_registrar(registry: Registry[type[M]]) -> Callable[[str], Callable[[type[M]], type[M]]]:
    """Return the ``register_…(name)`` decorator of a method registry (classifier or LM methods).

    The decorator adds the class under ``name``, stores the name on it and names the class in its ``Params``
    errors. Raises :class:`~expunge.errors.DuplicateNameError` when ``name`` is taken.
    """

    def register(name: str) -> Callable[[type[M]], type[M]]:
        def decorate(cls: type[M]) -> type[M]:
            registry.add(name, cls)
            cls.name = name
            cls.Params.owner = cls.__name__
            return cls

        return decorate

    register.__doc__ = (
        f"Register a class among the {registry.kind}s under a snake_case key that stays stable forever (it is audited)."
    )
    return register


register_method = method_registrar(METHODS)


def available_methods() -> list[str]:
    """Return every registered method name, sorted."""
    return METHODS.names()


def get_method(name: str) -> type[UnlearningMethod]:
    """Return the method class registered under ``name``.

    Raises:
        UnknownMethodError: No such method; the message lists the available ones.
    """
    return METHODS.get(name)


def make_method(name: str, params: dict[str, Any] | None = None) -> UnlearningMethod:
    """Build a registered method with parameter overrides (validated)."""
    return get_method(name)(**(params or {}))


def cycle(batches: Batches) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield batches forever, re-iterating ``batches`` (a new shuffle each pass when it shuffles)."""
    for _ in itertools.count():
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise MethodError("Cannot cycle over an empty set of batches.")
