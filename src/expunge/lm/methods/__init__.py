"""Built-in LM forgetting methods, one module each; importing this package registers them all."""

from expunge.lm.methods import (  # noqa: F401 - importing registers each method
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
from expunge.lm.methods._loop import knowledge_level

__all__ = ["knowledge_level"]
