"""One result shape for every unlearning run, written as ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FIGURES", "Figures", "RunReport", "gap_to_retrain", "markdown_table"]

FIGURES = (
    "forget_acc",
    "retain_acc",
    "test_acc",
    "unlearning_score",
    "mia_auc",
    "kl_anchor",
    "relearn_acc",
    "head_reset_acc",
    "probe_acc",
)
GAP_FIGURES = ("forget_acc", "retain_acc", "test_acc", "mia_auc")
SUPPRESSION_MARGIN = 0.05


@dataclass(frozen=True)
class Figures:
    """What a model still knows, measured the same way for every model of a scenario.

    Accuracies are fractions in [0, 1]. ``head_reset_acc`` is ``None`` when the forget set is not a
    whole class (the figure does not apply), never because a measurement failed.

    Attributes:
        forget_acc: Accuracy on the forgotten training samples.
        retain_acc: Accuracy on the retained training samples.
        test_acc: Accuracy on the whole test set.
        unlearning_score: For class forgetting, test accuracy on the other classes minus test accuracy on
            the forgotten class (the seed's definition); otherwise ``retain_acc − forget_acc``.
        mia_auc: AUC of the loss-threshold attack, forgotten samples vs held-out non-members of the same
            classes (0.5 = indistinguishable from unseen data).
        kl_anchor: Mean KL divergence (nats) from the original model on the anchor set (test samples
            outside the forgotten class).
        relearn_acc: Accuracy on the other forgotten samples after 10 Adam steps (lr 1e-3) on 32 of them.
        head_reset_acc: Forget accuracy after setting the class's output bias to the mean of the others.
        probe_acc: Accuracy on the forgotten samples of a linear probe fit on frozen penultimate features.
    """

    forget_acc: float
    retain_acc: float
    test_acc: float
    unlearning_score: float
    mia_auc: float
    kl_anchor: float
    relearn_acc: float
    head_reset_acc: float | None
    probe_acc: float


def gap_to_retrain(figures: Figures, reference: Figures) -> float:
    """Mean absolute difference over forget, retain and test accuracy and MIA AUC (SalUn's "Avg. Gap")."""
    return sum(abs(getattr(figures, k) - getattr(reference, k)) for k in GAP_FIGURES) / len(GAP_FIGURES)


def suppression_suspected(figures: Figures, reference: Figures | None) -> bool:
    """Flag a model that looks forgotten but recovers the data under the relearn or head-reset test.

    With a reference: the relearn or head-reset accuracy exceeds the retrained model's by more than 5
    points. Without one: either exceeds the model's own forget accuracy by more than 50 points.
    """
    checks = [("relearn_acc", figures.relearn_acc)]
    if figures.head_reset_acc is not None:
        checks.append(("head_reset_acc", figures.head_reset_acc))
    for name, value in checks:
        if reference is not None:
            ref = getattr(reference, name)
            if ref is not None and value - ref > SUPPRESSION_MARGIN:
                return True
        elif value - figures.forget_acc > 0.5:
            return True
    return False


@dataclass
class RunReport:
    """The figures of one unlearning run and everything needed to reproduce it.

    ``to_json`` flattens the figures, so ``report.json`` carries the keys ``method``, ``params``, ``seed``,
    ``seconds``, ``forget_acc``, ``retain_acc``, ``test_acc``, ``unlearning_score``, ``gap_to_retrain``,
    ``mia_auc``, ``relearn_acc``, ``head_reset_acc``, ``probe_acc``, ``kl_anchor``, ``peak_rss_mb`` and
    ``suppression_suspected``, plus the scenario and the reference's figures.
    """

    method: str
    params: dict[str, Any]
    seed: int
    seconds: float
    figures: Figures
    peak_rss_mb: float
    dataset: str
    arch: str
    forget_spec: str
    forget_kind: str
    n_forget: int
    n_retain: int
    gap_to_retrain: float | None = None
    reference: Figures | None = None
    reference_seconds: float | None = None
    model_sha256: str | None = None
    paper: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def suppression_suspected(self) -> bool:
        """See :func:`suppression_suspected`."""
        return suppression_suspected(self.figures, self.reference)

    @property
    def speedup(self) -> float | None:
        """Retraining seconds divided by this run's seconds, when a reference was timed."""
        if self.reference_seconds is None or self.seconds <= 0:
            return None
        return self.reference_seconds / self.seconds

    def to_json(self) -> dict[str, Any]:
        """Return the flat JSON document of ``report.json``."""
        doc: dict[str, Any] = {
            "method": self.method,
            "params": self.params,
            "seed": self.seed,
            "seconds": self.seconds,
            **asdict(self.figures),
            "gap_to_retrain": self.gap_to_retrain,
            "peak_rss_mb": self.peak_rss_mb,
            "suppression_suspected": self.suppression_suspected,
            "dataset": self.dataset,
            "arch": self.arch,
            "forget_spec": self.forget_spec,
            "forget_kind": self.forget_kind,
            "n_forget": self.n_forget,
            "n_retain": self.n_retain,
            "reference": asdict(self.reference) if self.reference is not None else None,
            "reference_seconds": self.reference_seconds,
            "speedup": self.speedup,
            "model_sha256": self.model_sha256,
            "paper": self.paper,
            "notes": self.notes,
        }
        return doc

    def to_markdown(self) -> str:
        """Return ``report.md``: the figures beside the retrained reference's."""
        lines = [
            f"# Unlearning report: `{self.method}` on {self.dataset} / {self.arch}",
            "",
            f"Forget set `{self.forget_spec}` ({self.n_forget} samples, {self.n_retain} retained), seed {self.seed}.",
            f"Unlearning took **{self.seconds:.3f} s**"
            + (
                f"; retraining took {self.reference_seconds:.2f} s ({self.speedup:.0f}× longer)."
                if self.speedup
                else "."
            ),
            f"Parameters: `{json.dumps(self.params, sort_keys=True)}`. Paper: {self.paper or 'n/a'}.",
            "",
            "| figure | this model | retrained reference |",
            "| --- | ---: | ---: |",
        ]
        for name in FIGURES:
            value = getattr(self.figures, name)
            ref = getattr(self.reference, name) if self.reference is not None else None
            lines.append(f"| {name} | {_fmt(value)} | {_fmt(ref)} |")
        lines += [
            "",
            f"- Average gap to retrain (forget, retain, test accuracy and MIA AUC): {_fmt(self.gap_to_retrain)}",
            f"- Peak resident memory during unlearning: {self.peak_rss_mb:.0f} MB",
            f"- Suppression suspected: **{'yes' if self.suppression_suspected else 'no'}** "
            "(relearn or head-reset accuracy more than 5 points above retraining's)",
        ]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, folder: Path | str) -> None:
        """Write ``report.json`` and ``report.md`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        (folder / "report.md").write_text(self.to_markdown(), encoding="utf-8")


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Render dict rows as a markdown table over ``columns`` (floats with 4 decimals)."""
    out = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            cells.append(_fmt(value) if isinstance(value, float) or value is None else str(value))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
