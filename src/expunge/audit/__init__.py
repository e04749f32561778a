"""Measuring forgetting as a skeptic would: membership inference at low false-positive rates, the set-level
test, relearning, head reset, feature probes, drift on an anchor set, and the audit gate.

Owns: every figure that says how much a model still knows about a forget set, the attack registry
(``loss_threshold``, ``confidence_svm``, ``calibrated``, ``lira``, ``lira_offline``, and ``ulira``, which is
given the method under test and compares the unlearned model with the retrained one), shadow models cached by
content hash, and the pass/fail gate with its policy. It works on any ``nn.Module`` classifier and tensors, so
it is usable alone as a library.

Must not touch: unlearning methods by name (``ulira`` receives the method as a callable), data set loading,
or anything of the governance half.
"""

from expunge.audit._audit import AuditData, AuditResult, Criterion, run_audit
from expunge.audit._html import REPORT_PROBE, REPORT_STYLE, figure_html, render_html, write_report
from expunge.audit._metrics import (
    canary_exposure,
    feature_probe_accuracy,
    head_reset_accuracy,
    kl_divergence,
    loss_mia_auc,
    relearn_accuracy,
    relearn_curve,
    roc_auc,
)
from expunge.audit._policy import DEFAULT_ATTACKS, Policy, load_policy
from expunge.audit._roc import AttackFigures, attack_figures, min_nonmembers, roc_curve, tpr_at_fpr
from expunge.audit._setlevel import SetLevelTest, set_level_test
from expunge.audit._shadows import ShadowSet, logit_confidence, train_shadows
from expunge.audit.attacks import Attack, AttackInputs, available_attacks, get_attack, register_attack

__all__ = [
    "REPORT_PROBE",
    "REPORT_STYLE",
    "figure_html",
    "DEFAULT_ATTACKS",
    "Attack",
    "AttackFigures",
    "AttackInputs",
    "AuditData",
    "AuditResult",
    "Criterion",
    "Policy",
    "SetLevelTest",
    "ShadowSet",
    "attack_figures",
    "available_attacks",
    "canary_exposure",
    "feature_probe_accuracy",
    "get_attack",
    "head_reset_accuracy",
    "kl_divergence",
    "load_policy",
    "logit_confidence",
    "loss_mia_auc",
    "min_nonmembers",
    "register_attack",
    "relearn_accuracy",
    "relearn_curve",
    "render_html",
    "roc_auc",
    "roc_curve",
    "run_audit",
    "set_level_test",
    "tpr_at_fpr",
    "train_shadows",
    "write_report",
]
