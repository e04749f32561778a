"""Model architectures, the seeded trainer, evaluation and checkpoints.

Owns: building the reference architectures (``mlp``, ``cnn``) from a JSON-able spec, training any
``nn.Module`` on any iterable of ``(x, y)`` batches deterministically on CPU with a Rich progress bar,
predicting and scoring, finding a classifier's output head and penultimate features, and saving
checkpoints as ``state_dict`` + JSON spec identified by the sha256 of their bytes.

Must not touch: data set loading, unlearning methods, audits, or anything of the governance half. Both
``expunge.unlearn`` and ``expunge.audit`` build on this area, which is why it sits below them.
"""

from expunge.models._arch import ModelSpec, available_architectures, build_model, register_architecture
from expunge.models._checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from expunge.models._heads import output_head, penultimate_features
from expunge.models._train import (
    TrainConfig,
    accuracy,
    evaluate_loss,
    per_sample_loss,
    predict_logits,
    progress_bar,
    seed_everything,
    train_model,
)

__all__ = [
    "Checkpoint",
    "ModelSpec",
    "TrainConfig",
    "accuracy",
    "available_architectures",
    "build_model",
    "evaluate_loss",
    "load_checkpoint",
    "output_head",
    "penultimate_features",
    "per_sample_loss",
    "predict_logits",
    "progress_bar",
    "register_architecture",
    "save_checkpoint",
    "seed_everything",
    "train_model",
]
