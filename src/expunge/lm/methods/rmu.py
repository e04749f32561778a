"""``rmu``: push the forget prompts' hidden states at one layer towards a fixed random direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from expunge.lm._forget import LMForgetData, LMForgetResult, register_lm_method
from expunge.lm._prompt import format_prompt
from expunge.lm._tokens import AnswerBatch, encode_pairs
from expunge.lm.methods._loop import ApproximateMethod, ApproximateParams
from expunge.unlearn import param


@dataclass(frozen=True)
class RMUParams(ApproximateParams):
    """Parameters of :class:`RMU`: the layer, and the steering norm as a multiple of the original's."""

    layer: int = param(-1, "Hidden layer whose output is steered (-1: the middle layer).", low=-1, high=1000)
    steering: float = param(
        4.0,
        "Target norm, as a multiple of the original's mean hidden-state norm at that layer.",
        low=0,
        low_open=True,
        high=100.0,
        tune=(1.0, 10.0),
    )
    lr: float = param(
        1e-4,
        "AdamW learning rate on the LoRA weights, decayed linearly to 0.",
        low=0,
        low_open=True,
        high=1e-1,
        tune=(1e-5, 1e-3),
        tune_log=True,
    )


@register_lm_method("rmu")
class RMU(ApproximateMethod):
    """Representation Misdirection for Unlearning (Li et al. 2024, "The WMDP Benchmark", §5): the mean squared
    distance between the forget samples' hidden states at one layer and ``c·u`` (``u`` a fixed random unit vector,
    ``c`` = ``steering`` × the original's mean norm there) is minimised, so later layers read noise where the person's
    facts were. The paper's retain term (match the frozen model's activations) is replaced by the shared retain NLL
    and anchor KL; the oracle-free stopping rule applies as for the other methods.
    """

    paper = "Li et al. 2024, The WMDP Benchmark: Measuring and Reducing Malicious Use With Unlearning (ICML), §5"
    Params = RMUParams

    def _layer(self, model: Any) -> int:
        layers = int(model.config.num_hidden_layers)
        chosen = self.params.layer
        return layers // 2 if chosen < 0 else min(chosen, layers)

    def _hidden(self, model: Any, batch: AnswerBatch) -> tuple[torch.Tensor, torch.Tensor]:
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True)
        return out.hidden_states[self._layer(model)].float(), batch.attention_mask.bool()

    def unlearn(self, model: Any, data: LMForgetData, *, seed: int = 0) -> LMForgetResult:
        """Fix the random direction and the original's mean norm, then run the shared loop."""
        tokenizer = data.tokenizer
        qas = sorted(data.forget, key=lambda q: q.sample_id)[:32]
        batch = encode_pairs(tokenizer, [format_prompt(tokenizer, q.question) for q in qas], [q.answer for q in qas])
        model.eval()
        with torch.no_grad():
            hidden, mask = self._hidden(model, batch)
            norm = float(hidden[mask].norm(dim=-1).mean())
        generator = torch.Generator().manual_seed(seed)
        direction = torch.rand(hidden.shape[-1], generator=generator)
        self._target = self.params.steering * norm * direction / direction.norm()
        return super().unlearn(model, data, seed=seed)

    def term(self, model: Any, batch: AnswerBatch, reference: torch.Tensor) -> torch.Tensor:
        """Mean squared distance of the forget batch's hidden states (real tokens) to the steering target."""
        hidden, mask = self._hidden(model, batch)
        return ((hidden[mask] - self._target) ** 2).mean()
