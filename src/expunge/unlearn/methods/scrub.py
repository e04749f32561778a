"""``scrub``: a student pushed away from its teacher on the forget set and kept close on the rest."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from expunge.unlearn._params import MethodParams, param
from expunge.unlearn._protocol import ForgetData, UnlearningMethod, cycle, register_method
from expunge.unlearn.methods._loop import make_optimizer, num_batches


def _kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
    ) * (temperature**2)


@dataclass(frozen=True)
class ScrubParams(MethodParams):
    """Parameters of :class:`Scrub`."""

    epochs: int = param(2, "Rounds of (max step on the forget set, min steps on retained data).", low=1, tune=(1, 5))
    max_epochs: int = param(1, "Rounds, from the first, that include the max step.", low=0, tune=(1, 3))
    min_steps: int = param(100, "Retained batches per min step.", low=1, tune=(20, 300))
    lr: float = param(5e-3, "SGD learning rate.", low=0, low_open=True, tune=(1e-4, 2e-2), tune_log=True)
    alpha: float = param(1.0, "Weight of the distillation term on retained data.", low=0.0)
    gamma: float = param(1.0, "Weight of the cross-entropy term on retained data.", low=0.0)
    temperature: float = param(4.0, "Distillation temperature.", low=0, low_open=True)
    max_kl: float = param(
        2.0, "Skip the max step on a forget batch already this far (KL) from the teacher.", low=0, low_open=True
    )
    init_noise: float = param(
        1e-3,
        "Std of the noise added to the student at start: at student == teacher the"
        " KL gradient is zero, so the max step could not begin.",
        low=0.0,
    )


@register_method("scrub")
class Scrub(UnlearningMethod):
    """SCRUB (Kurmanji, Triantafillou, Hayes & Triantafillou 2023, "Towards Unbounded Machine Unlearning",
    NeurIPS, §3): the original model is a frozen teacher; the student alternates *max* steps that increase
    its KL divergence from the teacher on the forget set and *min* steps that decrease cross-entropy plus
    KL on retained data.
    """

    paper = "Kurmanji et al. 2023, Towards Unbounded Machine Unlearning (NeurIPS), §3"
    Params = ScrubParams

    def unlearn(self, model: nn.Module, data: ForgetData, *, generator: torch.Generator) -> nn.Module:
        """Alternate max and min steps for ``epochs`` rounds."""
        p = self.params
        teacher = copy.deepcopy(model).eval()
        optimizer = make_optimizer(model.parameters(), kind="sgd", lr=p.lr)
        retain = cycle(data.retain)
        min_steps = min(p.min_steps, max(1, num_batches(data.retain)))
        if p.init_noise > 0:
            with torch.no_grad():
                for weight in model.parameters():
                    weight.add_(p.init_noise * torch.randn(weight.shape, generator=generator))
        model.train()
        for epoch in range(p.epochs):
            if epoch < p.max_epochs:
                for x, _y in data.forget:
                    with torch.no_grad():
                        target = teacher(x)
                    divergence = _kl(model(x), target, p.temperature)
                    if divergence.item() > p.max_kl:
                        continue
                    optimizer.zero_grad(set_to_none=True)
                    (-divergence).backward()
                    optimizer.step()
            for _ in range(min_steps):
                x, y = next(retain)
                with torch.no_grad():
                    target = teacher(x)
                logits = model(x)
                loss = p.gamma * F.cross_entropy(logits, y) + p.alpha * _kl(logits, target, p.temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return model.eval()
