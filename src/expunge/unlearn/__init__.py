"""Model forgetting: the method registry, the methods, dose tuning and the run report.

Owns: turning a trained ``nn.Module`` plus a forget set into a model that no longer carries the
forget set's influence — exactly (``retrain``) or approximately (every other registered method) — and
reporting each run in one shape beside a retrained reference.

Must not touch: the governance half (catalog, requests, bus, evidence, service). It is a library any
PyTorch user can call with their own model and DataLoaders; the governance half calls it, never the
reverse.
"""

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import (
    ForgetData,
    UnlearningMethod,
    available_methods,
    get_method,
    make_method,
    method_registrar,
    register_method,
)
from expunge.unlearn._report import FIGURES, Figures, RunReport, gap_to_retrain, markdown_table
from expunge.unlearn._run import audit_data, forget_data, measure, run_method
from expunge.unlearn._scenario import DEFAULT_RECIPES, Scenario, prepare_scenario, train_original, train_reference
from expunge.unlearn._tune import OBJECTIVES, SAMPLERS, TuneResult, tune_dose

__all__ = [
    "DEFAULT_RECIPES",
    "FIGURES",
    "OBJECTIVES",
    "SAMPLERS",
    "Figures",
    "ForgetData",
    "MethodParams",
    "RunReport",
    "Scenario",
    "TuneResult",
    "UnlearningMethod",
    "audit_data",
    "available_methods",
    "forget_data",
    "gap_to_retrain",
    "get_method",
    "make_method",
    "markdown_table",
    "measure",
    "param",
    "prepare_scenario",
    "method_registrar",
    "register_method",
    "run_method",
    "train_original",
    "train_reference",
    "tune_dose",
]
