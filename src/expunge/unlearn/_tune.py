"""Dose tuning: search a method's parameters with Optuna on the validation split, never the test set."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from expunge.audit import loss_mia_auc
from expunge.errors import InvalidParameterError
from expunge.models import accuracy
from expunge.unlearn._protocol import UnlearningMethod, get_method
from expunge.unlearn._run import forget_data
from expunge.unlearn._scenario import Scenario

__all__ = ["OBJECTIVES", "SAMPLERS", "TuneResult", "tune_dose"]

SAMPLERS = ("random", "tpe")
OBJECTIVES = ("unlearning_score", "holdout_gap")
RETAIN_SAMPLE = 5000  # retained samples scored per trial: enough to see a 0.1-point drift
INFEASIBLE_PENALTY = 1.0


@dataclass(frozen=True)
class TuneResult:
    """The outcome of a dose search.

    Attributes:
        method: The tuned method's name.
        best_params: Parameters of the best feasible trial (or the best trial when none was feasible).
        best_value: Its objective value.
        objective: ``"unlearning_score"`` or ``"holdout_gap"``.
        retain_budget: Largest validation-accuracy drop a feasible trial may cause.
        trials: Every trial: number, params, value, feasibility, validation figures, seconds.
    """

    method: str
    best_params: dict[str, Any]
    best_value: float
    objective: str
    retain_budget: float
    sampler: str
    seed: int
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict (written as ``tuning.json``)."""
        return {
            "method": self.method,
            "best_params": self.best_params,
            "best_value": self.best_value,
            "objective": self.objective,
            "retain_budget": self.retain_budget,
            "sampler": self.sampler,
            "seed": self.seed,
            "trials": self.trials,
        }


def _validation_figures(model: nn.Module, scenario: Scenario) -> tuple[float, float]:
    """Return (retained-validation accuracy, forget-proxy accuracy) without touching the test set."""
    val = scenario.partition.val
    target = scenario.forget_set.target_class
    if target is not None:
        in_class = val.y == target
        return accuracy(model, val.x[~in_class], val.y[~in_class]), accuracy(model, val.x[in_class], val.y[in_class])
    return accuracy(model, val.x, val.y), accuracy(model, scenario.forget.x, scenario.forget.y)


@dataclass(frozen=True)
class _HoldoutGap:
    """SalUn's average gap to retraining, estimated without a retrained model and without the test set.

    A model retrained without random samples classifies them as well as any held-out sample (the original's
    validation accuracy), keeps the original's accuracy on the retained and held-out data, and gives a
    membership attack nothing (AUC 0.5 between the forgotten samples and the validation split). The estimate
    is the mean absolute distance of the same four figures the report's ``gap_to_retrain`` compares.
    """

    val_acc: float
    retain_acc: float
    retain: tuple[torch.Tensor, torch.Tensor]

    @classmethod
    def of(cls, original: nn.Module, scenario: Scenario, seed: int, *, val_acc: float) -> _HoldoutGap:
        """The targets, from the original model; ``val_acc`` is its first figure of :func:`_validation_figures`."""
        retain = scenario.retain.sample(RETAIN_SAMPLE, np.random.default_rng(seed))
        return cls(val_acc, accuracy(original, retain.x, retain.y), retain.xy)

    def __call__(self, model: nn.Module, scenario: Scenario, val_acc: float, forget_acc: float) -> dict[str, float]:
        """The estimate and the figures it adds to those of :func:`_validation_figures`."""
        retain_acc = accuracy(model, *self.retain)
        mia = loss_mia_auc(model, scenario.forget.xy, scenario.partition.val.xy)
        gap = (
            abs(forget_acc - self.val_acc)
            + abs(retain_acc - self.retain_acc)
            + abs(val_acc - self.val_acc)
            + abs(mia - 0.5)
        ) / 4
        return {"retain_sample_acc": retain_acc, "mia_auc": mia, "holdout_gap": gap}


def tune_dose(
    method: str,
    original: nn.Module,
    scenario: Scenario,
    *,
    trials: int = 20,
    sampler: str = "random",
    objective: str | None = None,
    retain_budget: float = 0.02,
    fixed: dict[str, Any] | None = None,
    seed: int = 0,
) -> TuneResult:
    """Search the dose of ``method`` that maximises forgetting within a retained-accuracy budget.

    Objectives, both measured on the validation split (held-out training data):

    - ``unlearning_score`` (default for class forgetting): validation accuracy on the other classes minus
      validation accuracy on the forgotten class — the seed's Unlearning Score, kept off the test set;
    - ``holdout_gap`` (default otherwise): minus the average gap to retraining estimated on held-out data
      (see :class:`_HoldoutGap`), since a model retrained without random samples treats them like unseen
      data rather than getting them wrong.

    A trial whose retained validation accuracy falls more than ``retain_budget`` below the original's is
    infeasible: its value is lowered by 1 plus the excess, so any feasible trial ranks above it.

    Args:
        method: Registered method name; its Params declare the searched ranges.
        original: The trained model; not modified.
        scenario: The scenario.
        trials: Number of trials.
        sampler: ``"random"`` (the seed's random search) or ``"tpe"``.
        objective: See above; default chosen by the forget set's kind.
        retain_budget: Allowed drop of retained validation accuracy, in [0, 1].
        fixed: Parameters held fixed (not searched).
        seed: Seed of the sampler.

    Raises:
        InvalidParameterError: Unknown sampler or objective, trials < 1, a budget outside [0, 1], or a method
            with nothing to tune.
    """
    cls = get_method(method)
    space = {k: v for k, v in cls.Params.tunable().items() if k not in (fixed or {})}
    if sampler not in SAMPLERS:
        raise InvalidParameterError(f"The sampler must be one of {list(SAMPLERS)}. Got {sampler!r} instead.")
    objective = objective or ("unlearning_score" if scenario.forget_set.target_class is not None else "holdout_gap")
    if objective not in OBJECTIVES:
        raise InvalidParameterError(f"The objective must be one of {list(OBJECTIVES)}. Got {objective!r} instead.")
    if not isinstance(trials, int) or trials < 1:
        raise InvalidParameterError(f"The number of tuning trials must be an int >= 1. Got {trials!r} instead.")
    if not 0.0 <= retain_budget <= 1.0:
        raise InvalidParameterError(f"The retain budget must be a float in [0, 1]. Got {retain_budget!r} instead.")
    if not space:
        raise InvalidParameterError(f"The method {method!r} declares no tunable parameter.")

    base_retain, _ = _validation_figures(original, scenario)
    holdout_gap = _HoldoutGap.of(original, scenario, seed, val_acc=base_retain) if objective == "holdout_gap" else None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=seed)
        if sampler == "random"
        else optuna.samplers.TPESampler(seed=seed),
    )
    records: list[dict[str, Any]] = []

    def run_trial(trial: optuna.Trial) -> float:
        params = dict(fixed or {})
        for name, (low, high, log, kind) in space.items():
            if kind is int:
                params[name] = trial.suggest_int(name, int(low), int(high), log=log)
            else:
                params[name] = trial.suggest_float(name, low, high, log=log)
        instance: UnlearningMethod = cls(**params)
        model = copy.deepcopy(original)
        start = time.perf_counter()
        model = instance.forget(
            model, forget_data(scenario), generator=torch.Generator().manual_seed(seed + trial.number)
        )
        seconds = time.perf_counter() - start
        retain_acc, forget_acc = _validation_figures(model, scenario)
        extra = holdout_gap(model, scenario, retain_acc, forget_acc) if holdout_gap is not None else {}
        value = retain_acc - forget_acc if holdout_gap is None else -extra["holdout_gap"]
        shortfall = base_retain - retain_acc - retain_budget
        feasible = shortfall <= 0
        if not feasible:
            value -= INFEASIBLE_PENALTY + shortfall
        records.append(
            {
                "number": trial.number,
                "params": params,
                "value": value,
                "feasible": feasible,
                "val_retain_acc": retain_acc,
                "val_forget_acc": forget_acc,
                "seconds": seconds,
                **extra,
            }
        )
        return value

    study.optimize(run_trial, n_trials=trials)
    best = max(records, key=lambda r: r["value"])
    return TuneResult(
        method=method,
        best_params=best["params"],
        best_value=best["value"],
        objective=objective,
        retain_budget=retain_budget,
        sampler=sampler,
        seed=seed,
        trials=records,
    )
