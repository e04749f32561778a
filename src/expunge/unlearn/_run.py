"""Run a method on a scenario and measure the result the same way as the retrained reference."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psutil
import torch
from torch import nn

from expunge.audit import (
    AuditData,
    feature_probe_accuracy,
    head_reset_accuracy,
    kl_divergence,
    loss_mia_auc,
    relearn_accuracy,
)
from expunge.datasets import Split
from expunge.models import accuracy
from expunge.unlearn._protocol import ForgetData, UnlearningMethod
from expunge.unlearn._report import Figures, RunReport, gap_to_retrain
from expunge.unlearn._scenario import Scenario

__all__ = ["audit_data", "forget_data", "measure", "peak_rss", "run_method"]

RELEARN_SAMPLES = 32
EVAL_CAP = 3000  # samples per figure beyond which estimates are already tight


@contextmanager
def peak_rss(interval: float = 0.005) -> Iterator[list[float]]:
    """Sample this process's resident memory while the block runs; yield a list holding the peak in MB."""
    process = psutil.Process()
    peak = [process.memory_info().rss / 2**20]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss / 2**20)
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], process.memory_info().rss / 2**20)


def forget_data(scenario: Scenario, *, batch_size: int | None = None) -> ForgetData:
    """Build the :class:`ForgetData` of a scenario, with seeded shuffling (default: the recipe's batch size)."""
    batch_size = batch_size or scenario.train_config.batch_size
    return ForgetData(
        forget=scenario.forget.batches(batch_size, shuffle=True, generator=scenario.generator(1)),
        retain=scenario.retain.batches(batch_size, shuffle=True, generator=scenario.generator(2)),
        num_classes=scenario.dataset.num_classes,
        target_class=scenario.forget_set.target_class,
        train_config=scenario.train_config,
        model_factory=scenario.model_factory,
        holdout=scenario.partition.val.batches(batch_size, shuffle=False),
    )


@dataclass(frozen=True)
class _Views:
    forget: Split
    attack: Split
    after_attack: Split
    nonmembers: Split
    anchor: Split
    probe_train: Split


def _nonmembers_and_anchor(scenario: Scenario) -> tuple[Split, Split]:
    """Held-out non-members (of the forgotten class, for class forgetting) and the anchor set (test samples
    outside the forgotten class): the same choice for the run figures and for the audit."""
    holdout, test = scenario.partition.holdout, scenario.dataset.test
    target = scenario.forget_set.target_class
    if target is None:
        return holdout, test
    return holdout.subset(holdout.y == target), test.subset(test.y != target)


def _views(scenario: Scenario) -> _Views:
    rng = np.random.default_rng(scenario.seed)
    forget = scenario.forget
    order = rng.permutation(len(forget))
    n_attack = min(RELEARN_SAMPLES, max(1, len(forget) // 2))
    rest = order[n_attack:] if len(forget) > n_attack else order
    after_attack = forget.subset(rest).sample(EVAL_CAP, rng)
    nonmembers, anchor = _nonmembers_and_anchor(scenario)
    nonmembers = nonmembers.sample(EVAL_CAP, rng)
    anchor = anchor.sample(EVAL_CAP, rng)
    return _Views(
        forget=forget.sample(EVAL_CAP, rng),
        attack=forget.subset(order[:n_attack]),
        after_attack=after_attack,
        nonmembers=nonmembers,
        anchor=anchor,
        probe_train=scenario.partition.val.sample(EVAL_CAP, rng),
    )


def measure(model: nn.Module, scenario: Scenario, *, original: nn.Module) -> Figures:
    """Measure every figure of :class:`Figures` for ``model`` on ``scenario``.

    Args:
        model: The model to judge (unlearned, retrained or the original itself).
        scenario: The scenario it belongs to.
        original: The model before unlearning, for KL drift.
    """
    v = _views(scenario)
    test = scenario.dataset.test
    target = scenario.forget_set.target_class
    forget_acc = accuracy(model, v.forget.x, v.forget.y)
    retain_acc = accuracy(model, scenario.retain.x, scenario.retain.y)
    if target is not None:
        in_class = test.y == target
        score = accuracy(model, test.x[~in_class], test.y[~in_class]) - accuracy(
            model, test.x[in_class], test.y[in_class]
        )
        head_reset = head_reset_accuracy(model, target, v.forget.x, v.forget.y)
    else:
        score = retain_acc - forget_acc
        head_reset = None
    return Figures(
        forget_acc=forget_acc,
        retain_acc=retain_acc,
        test_acc=accuracy(model, test.x, test.y),
        unlearning_score=score,
        mia_auc=loss_mia_auc(model, v.forget.xy, v.nonmembers.xy),
        kl_anchor=kl_divergence(original, model, v.anchor.x),
        relearn_acc=relearn_accuracy(model, v.attack.xy, v.after_attack.xy),
        head_reset_acc=head_reset,
        probe_acc=feature_probe_accuracy(
            model, v.probe_train.xy, v.forget.xy, num_classes=scenario.dataset.num_classes
        ),
    )


def run_method(
    method: UnlearningMethod,
    original: nn.Module,
    scenario: Scenario,
    *,
    reference: tuple[Figures, float] | None = None,
    measure_on: Scenario | None = None,
) -> tuple[nn.Module, RunReport]:
    """Unlearn with ``method`` on a copy of ``original`` and measure the result.

    Args:
        method: A configured method.
        original: The trained model; not modified.
        scenario: The scenario.
        reference: The retrained reference's figures and training seconds, for the gap and speed-up.
        measure_on: Measure on this scenario's views instead of ``scenario``'s (same forget set, other seed:
            the evaluation samples of a re-seeded retrain must be those of the reference it is compared with).

    Returns:
        The unlearned model and its report.
    """
    model = copy.deepcopy(original)
    data = forget_data(scenario)
    with peak_rss() as peak:
        start = time.perf_counter()
        model = method.forget(model, data, generator=scenario.generator(3))
        seconds = time.perf_counter() - start
    model.eval()
    figures = measure(model, measure_on or scenario, original=original)
    notes = []
    if scenario.forget_set.target_class is not None:
        notes.append(
            f"Class forgetting: the Unlearning Score uses the test samples of class "
            f"{scenario.forget_set.target_class} against the other test samples, as the seed did."
        )
    ref_figures, ref_seconds = reference if reference is not None else (None, None)
    report = RunReport(
        method=method.name,
        params=method.params.to_json(),
        seed=scenario.seed,
        seconds=seconds,
        figures=figures,
        peak_rss_mb=peak[0],
        dataset=scenario.dataset.name,
        arch=scenario.spec.arch,
        forget_spec=scenario.forget_set.spec,
        forget_kind=scenario.forget_set.kind,
        n_forget=len(scenario.forget),
        n_retain=len(scenario.retain),
        gap_to_retrain=gap_to_retrain(figures, ref_figures) if ref_figures is not None else None,
        reference=ref_figures,
        reference_seconds=ref_seconds,
        paper=method.paper,
        notes=notes,
    )
    return model, report


def audit_data(scenario: Scenario) -> AuditData:
    """Build the :class:`~expunge.audit.AuditData` of a scenario.

    Non-members are the held-out split (of the forgotten class, for class forgetting; the never-planted canary
    candidates when the canaries are forgotten), the shadow pool is members plus held-out samples (plus canary
    candidates), the anchor set the test samples outside the forgotten class, and the feature probe is fit on
    the validation split.
    """
    holdout, test = scenario.partition.holdout, scenario.dataset.test
    target = scenario.forget_set.target_class
    nonmembers, anchor = _nonmembers_and_anchor(scenario)
    parts = [scenario.members, holdout]
    if scenario.canaries is not None:
        parts.append(scenario.canaries.candidates)  # shadows must see candidates IN as often as OUT
        if scenario.forget_set.kind == "canaries":
            nonmembers = scenario.canaries.candidates  # same distribution as the forgotten canaries
    pool = Split(
        torch.cat([p.x for p in parts]), torch.cat([p.y for p in parts]), np.concatenate([p.ids for p in parts])
    )
    return AuditData(
        forget=scenario.forget,
        nonmembers=nonmembers,
        retain=scenario.retain,
        test=test,
        pool=pool,
        anchor=anchor,
        probe_train=scenario.partition.val,
        spec=scenario.spec,
        recipe=scenario.train_config,
        num_classes=scenario.dataset.num_classes,
        target_class=target,
        canaries=scenario.canaries,
    )
