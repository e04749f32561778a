"""Built-in unlearning methods, one module each; importing this package registers them all."""

from expunge.unlearn.methods import (  # noqa: F401
    eu_k,
    finetune,
    fisher,
    gradient_ascent,
    holdout_match,
    l1_sparse,
    label_flip,
    neggrad_plus,
    retrain,
    salun,
    scrub,
    ssd,
    suppress_logit,
)

__all__: list[str] = []  # each method is reached by its registry name: expunge.unlearn.get_method("eu_k")
