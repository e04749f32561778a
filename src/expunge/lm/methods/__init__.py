"""Built-in LM forgetting methods, one module each; importing this package registers them all."""

from expunge.lm.methods import (  # noqa: F401
    adapter_drop,
    adapter_retrain,
    grad_ascent,
    grad_diff,
    idk,
    npo,
    rmu,
    simnpo,
    sisa,
)
