"""Dose tuning for LM methods: Optuna on the validation forget people only, never the evaluated split.

A trial forgets the *validation* people (other trained people, never reported) from the target adapter and scores
how close they come to never-seen reference people — the gap the oracle-free stopping rule also aims at — minus a
penalty when the retained samples' log-probability drops more than ``retain_budget`` nats per token. The adapter
is restored between trials, so tuning leaves it as it was.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import optuna

from expunge.errors import InvalidParameterError
from expunge.lm._adapters import adapter_state, restore_adapter_state
from expunge.lm._forget import LMForgetData, get_lm_method
from expunge.lm.methods import knowledge_level

__all__ = ["LMTuneResult", "tune_lm_dose"]

RETAIN_SAMPLE = 64  # retained questions scored per trial
INFEASIBLE_PENALTY = 10.0


@dataclass(frozen=True)
class LMTuneResult:
    """The outcome of a dose search: the best parameters, their objective, and every trial."""

    method: str
    best_params: dict[str, Any]
    best_value: float
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "method": self.method,
            "best_params": self.best_params,
            "best_value": self.best_value,
            "trials": self.trials,
        }


def tune_lm_dose(
    method: str,
    model: Any,
    validation: LMForgetData,
    *,
    trials: int = 8,
    fixed: dict[str, Any] | None = None,
    retain_budget: float = 0.1,
    seed: int = 0,
) -> LMTuneResult:
    """Search ``method``'s tunable parameters on the validation forget data (see the module docstring).

    Args:
        method: A registered approximate LM method.
        model: The ``PeftModel`` holding ``validation.adapter_name``; restored after every trial.
        validation: Forget data whose forget set is the validation people (``LMForgetData.from_split(...,
            validation=True)``).
        trials: Number of trials (≥ 1).
        fixed: Parameters held fixed.
        retain_budget: Allowed drop of the retained samples' mean per-token log-probability, in nats (≥ 0).
        seed: Seed of the random sampler and of the methods' batch order.

    Raises:
        InvalidParameterError: An exact method, trials < 1, a negative budget, or nothing to tune.
    """
    cls = get_lm_method(method)
    if cls.exact:
        raise InvalidParameterError(f"{method} is exact: it has no dose to tune.")
    if not isinstance(trials, int) or trials < 1:
        raise InvalidParameterError(f"The number of tuning trials must be an int >= 1. Got {trials!r} instead.")
    if retain_budget < 0:
        raise InvalidParameterError(f"The retain budget must be a float >= 0. Got {retain_budget!r} instead.")
    fixed = dict(fixed or {})
    space = {k: v for k, v in cls.Params.tunable().items() if k not in fixed}
    if not space:
        raise InvalidParameterError(f"The method {method!r} declares no tunable parameter.")
    tokenizer, name = validation.tokenizer, validation.adapter_name
    retain = validation.retain[:RETAIN_SAMPLE]
    saved = adapter_state(model, name)
    base_retain = knowledge_level(model, tokenizer, retain, statistic="logprob")
    sampler = optuna.samplers.RandomSampler(seed=seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    records: list[dict[str, Any]] = []

    def run_trial(trial: optuna.Trial) -> float:
        params = dict(fixed)
        for key, (low, high, log, kind) in space.items():
            suggest = trial.suggest_int if kind is int else trial.suggest_float
            params[key] = suggest(key, kind(low), kind(high), log=log)
        began = time.perf_counter()
        try:
            result = cls(**params).forget(model, replace(validation), seed=seed + trial.number)
            gap = result.trace[-1]["forget"] - result.trace[-1]["reference"] if result.trace else float("nan")
            if not result.trace:
                gap = knowledge_level(model, tokenizer, validation.forget) - knowledge_level(
                    model, tokenizer, validation.reference
                )
            drop = base_retain - knowledge_level(model, tokenizer, retain, statistic="logprob")
        finally:
            restore_adapter_state(model, saved, name)
        value = -abs(gap)
        feasible = drop <= retain_budget
        if not feasible:
            value -= INFEASIBLE_PENALTY + drop
        records.append(
            {
                "number": trial.number,
                "params": params,
                "value": value,
                "gap": gap,
                "retain_drop": drop,
                "feasible": feasible,
                "seconds": time.perf_counter() - began,
            }
        )
        return value

    study.optimize(run_trial, n_trials=trials)
    best = max(records, key=lambda r: r["value"])
    return LMTuneResult(method=method, best_params=best["params"], best_value=best["value"], trials=records)
