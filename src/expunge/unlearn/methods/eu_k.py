"""``eu_k``: exact unlearning of the last k layers — re-initialise them and train them on retained data."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.datasets import TensorBatches
from expunge.errors import MethodError
from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import steps_for


def _tail_start(model: nn.Sequential, k: int) -> int:
    """Return the index in ``model`` of the first of its last ``k`` modules that hold parameters."""
    with_params = [i for i, m in enumerate(model) if any(True for _ in m.parameters())]
    if k > len(with_params):
        raise MethodError(f"eu_k cannot re-train the last {k} layers of a model with {len(with_params)}.")
    return with_params[-k]


@dataclass(frozen=True)
class EUkParams(MethodParams):
    """Parameters of :class:`EUk`."""

    k: int = param(1, "Number of trailing parameterised layers to re-initialise and re-train.", low=1)
    epochs: float = param(
        2.0, "Passes over the retained data for the re-trained layers.", low=0, low_open=True, tune=(1.0, 10.0)
    )
    lr: float = param(
        0.05, "SGD learning rate of the re-trained layers.", low=0, low_open=True, tune=(0.005, 0.2), tune_log=True
    )
    batch_size: int = param(512, "Batch size of the re-training (features are cached, so large is cheap).", low=1)


@register_method("eu_k")
class EUk(UnlearningMethod):
    """EU-k (Goel, Prabhu, Sanyal, Lim, Torr & Kumaraguru 2022, "Towards Adversarial Evaluation of Machine
    Unlearning", §4): exact unlearning of the last ``k`` layers. Those layers are re-initialised and trained
    from scratch on the retained data only, the layers below stay frozen. The re-trained layers never saw the
    forgotten data, so the output head carries no trace of a forgotten class and cannot be flipped back by a
    bias reset or a few relearning steps; what the frozen layers learnt from the forgotten data remains
    (measure it with the feature probe and membership inference). Needs an ``nn.Sequential`` model, whose
    frozen part's features are computed once and cached, which makes it fast.
    """

    paper = "Goel et al. 2022, Towards Adversarial Evaluation of Machine Unlearning, §4 (EU-k)"
    Params = EUkParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Re-initialise the last ``k`` layers and train them on cached features of the retained data."""
        if not isinstance(model, nn.Sequential):
            raise MethodError(f"eu_k needs an nn.Sequential model to split at layer k; got {type(model).__name__}.")
        p = self.params
        start = _tail_start(model, p.k)
        body, tail = model[:start], model[start:]
        body.eval()
        with torch.no_grad():
            pairs = [(body(x), y) for x, y in data.retain]
            feats = torch.cat([f for f, _ in pairs])
            labels = torch.cat([y for _, y in pairs])
            fork = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
            for module in tail.modules():
                if hasattr(module, "reset_parameters"):
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=fork)))
                        module.reset_parameters()
        cached = TensorBatches(feats, labels, batch_size=p.batch_size, shuffle=True, generator=generator)
        optimizer = torch.optim.SGD(tail.parameters(), lr=p.lr, momentum=0.9)
        batches = cycle(cached)
        tail.train()
        for _ in range(steps_for(p.epochs, cached)):
            f, y = next(batches)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(tail(f), y).backward()
            optimizer.step()
        return model.eval()
