"""The LM audit report: a self-contained ``lm-audit.html`` (plots embedded as PNG) beside ``lm-audit.json``.

Mirrors the classifier report (``expunge.audit``): the gate's verdict and checks first, then every figure of the
model beside the oracle's, then the plots (truth ratios, ROC of each membership attack, accuracies by question
set, canary exposure, robustness probes).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.pyplot as plt
import numpy as np

from expunge.audit import REPORT_PROBE, REPORT_STYLE, figure_html, roc_curve
from expunge.lm._evaluate import LMEvaluation
from expunge.lm._gate import GateResult

__all__ = ["render_lm_html", "write_lm_report"]

COLORS = {"model": "#1f77b4", "oracle": "#2ca02c"}


_BOUND = {"min": "≥", "max": "≤", "abs_max": "|·| ≤"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:.4g}"
    return html.escape(str(value))


def _truth_plot(roles: dict[str, LMEvaluation]) -> str:
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    values = {r: np.log10(np.asarray(e.truth_ratios["forget"])) for r, e in roles.items()}
    lo = min(v.min() for v in values.values())
    hi = max(v.max() for v in values.values())
    bins = np.linspace(lo, hi + 1e-9, 25)
    for role, v in values.items():
        ax.hist(v, bins=bins, alpha=0.55, color=COLORS[role], label=role, density=True)
    ax.set_xlabel("log10 truth ratio (forget questions)")
    ax.legend(fontsize=8)
    return figure_html(fig, "Truth ratios on the forget set: the KS test of forget quality compares these two")


def _roc_plots(roles: dict[str, LMEvaluation]) -> list[str]:
    out = []
    first = next(iter(roles.values()))
    for attack in first.mia:
        fig, ax = plt.subplots(figsize=(3.8, 3.6))
        ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="chance")
        for role, e in roles.items():
            fpr, tpr = roc_curve(
                np.asarray(e.mia_scores[attack]["forget"]), np.asarray(e.mia_scores[attack]["holdout"])
            )
            ax.step(fpr, tpr, where="post", color=COLORS[role], label=f"{role} (AUC {e.mia[attack].auc:.3f})")
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.set_title(attack)
        ax.legend(fontsize=8, loc="lower right")
        out.append(figure_html(fig, f"ROC of {attack}: forgotten people (members) vs holdout people"))
    return out


def _bars(roles: dict[str, LMEvaluation], values: dict[str, dict[str, float]], ylabel: str, caption: str) -> str:
    names = sorted({k for v in values.values() for k in v})
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names)), 3.4))
    width = 0.8 / max(len(roles), 1)
    for i, role in enumerate(roles):
        ax.bar(
            np.arange(len(names)) + i * width,
            [values[role].get(n, 0.0) for n in names],
            width,
            color=COLORS[role],
            label=role,
        )
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return figure_html(fig, caption)


def render_lm_html(
    evaluation: LMEvaluation,
    oracle: LMEvaluation,
    result: GateResult | None = None,
    *,
    title: str = "Language-model forgetting audit",
) -> str:
    """Return the self-contained HTML report of ``evaluation`` against ``oracle`` (no network: images embedded)."""
    roles = {"model": evaluation, "oracle": oracle}
    verdict = ""
    checks = ""
    if result is not None:
        state = "pass" if result.passed else "fail"
        verdict = f'<p class="verdict {state}">LM audit gate: {state.upper()}</p>'
        rows = "".join(
            f"<tr><td>{html.escape(c.name)}</td><td>{_fmt(c.value)}</td><td>{_BOUND[c.kind]} {_fmt(c.bound)}</td>"
            f"<td class='{'pass' if c.passed else 'fail'}'>{'pass' if c.passed else 'FAIL'}</td>"
            f"<td class='what'>{html.escape(c.detail)}</td></tr>"
            for c in result.checks
        )
        checks = (
            f"<h2>Criteria</h2><p class='note'>Policy: {html.escape(result.policy)}</p><table><tr>"
            f"<th>criterion</th><th>measured</th><th>bound</th><th>result</th><th>what</th></tr>{rows}</table>"
        )
    cmp = evaluation.oracle
    headline = ""
    if cmp is not None:
        headline = (
            f"<table><tr><th>figure</th><th>value</th></tr>"
            f"<tr><td>forget quality (KS p-value)</td><td>{_fmt(cmp.forget_quality.p_value)}</td></tr>"
            f"<tr><td>KS statistic</td><td>{_fmt(cmp.forget_quality.statistic)}</td></tr>"
            f"<tr><td>forget questions (n)</td><td>{cmp.forget_quality.n}</td></tr>"
            f"<tr><td>PrivLeak (Min-K%), %</td><td>{_fmt(cmp.privleak)}</td></tr>"
            f"<tr><td>model utility / oracle's</td><td>{_fmt(cmp.model_utility)} / {_fmt(cmp.oracle_model_utility)}</td></tr>"  # noqa: E501
            f"<tr><td>canary exposure gap, bits</td><td>{_fmt(cmp.exposure_gap)}</td></tr></table>"
        )
    sets = sorted(set(evaluation.accuracy) | set(oracle.accuracy))
    acc_rows = "".join(
        f"<tr><td>{s}</td><td>{_fmt(evaluation.accuracy.get(s, float('nan')))}</td>"
        f"<td>{_fmt(oracle.accuracy.get(s, float('nan')))}</td></tr>"
        for s in sets
    )
    mem_rows = "".join(
        f"<tr><td>{s}</td><td>{_fmt(evaluation.exact_memorisation[s])}</td><td>{_fmt(oracle.exact_memorisation[s])}</td>"
        f"<td>{_fmt(evaluation.extraction_strength[s])}</td><td>{_fmt(oracle.extraction_strength[s])}</td></tr>"
        for s in evaluation.exact_memorisation
    )
    mia_rows = "".join(
        f"<tr><td>{a}</td><td>{_fmt(f.auc)} [{_fmt(f.ci_low)}, {_fmt(f.ci_high)}]</td>"
        f"<td>{_fmt(oracle.mia[a].auc)} [{_fmt(oracle.mia[a].ci_low)}, {_fmt(oracle.mia[a].ci_high)}]</td>"
        f"<td>{_fmt(cmp.privleak_by_attack[a]) if cmp else 'n/a'}</td></tr>"
        for a, f in evaluation.mia.items()
    )
    util_rows = "".join(
        f"<tr><td>{k}</td><td>{_fmt(evaluation.utility.get(k, float('nan')))}</td>"
        f"<td>{_fmt(oracle.utility.get(k, float('nan')))}</td></tr>"
        for k in sorted(set(evaluation.utility) | set(oracle.utility))
    )
    probe_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(evaluation.probes.get(k, float('nan')))}</td>"
        f"<td>{_fmt(oracle.probes.get(k, float('nan')))}</td></tr>"
        for k in sorted(set(evaluation.probes) | set(oracle.probes))
    )
    plots = [
        _truth_plot(roles),
        *_roc_plots(roles),
        _bars(roles, {r: e.accuracy for r, e in roles.items()}, "greedy accuracy", "Greedy accuracy by question set"),
    ]
    if evaluation.canary_exposure:
        plots.append(
            _bars(
                roles,
                {r: e.canary_exposure for r, e in roles.items()},
                "exposure (bits)",
                "Canary exposure among never-planted candidates",
            )
        )
    if evaluation.probes:
        plots.append(_bars(roles, {r: e.probes for r, e in roles.items()}, "value", "Robustness probes"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>{REPORT_PROBE}</script><style>{REPORT_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{verdict}
<p class="note">Split {html.escape(evaluation.split)} (seed {evaluation.seed}): {evaluation.n_forget_questions} forget
questions; every figure beside the oracle's (a model trained without the forgotten people), fp32.</p>
{checks}
<h2>Against the oracle</h2>{headline}
<h2>Greedy accuracy</h2>
<table><tr><th>question set</th><th>model</th><th>oracle</th></tr>{acc_rows}</table>
<h2>Teacher-forced memorisation</h2>
<table><tr><th>set</th><th>exact mem. (model)</th><th>exact mem. (oracle)</th><th>extraction (model)</th>
<th>extraction (oracle)</th></tr>{mem_rows}</table>
<h2>Membership inference: forgotten vs holdout people</h2>
<table><tr><th>attack</th><th>model AUC [95 % CI]</th><th>oracle AUC [95 % CI]</th><th>PrivLeak, %</th></tr>
{mia_rows}</table>
<h2>Utility</h2>
<table><tr><th>figure</th><th>model</th><th>oracle</th></tr>{util_rows}
<tr><td>model utility</td><td>{_fmt(evaluation.model_utility)}</td><td>{_fmt(oracle.model_utility)}</td></tr></table>
{f"<h2>Robustness probes</h2><table><tr><th>probe</th><th>model</th><th>oracle</th></tr>{probe_rows}</table>" if probe_rows else ""}
<h2>Plots</h2>
{"".join(plots)}
</body></html>
"""  # noqa: E501


def write_lm_report(
    evaluation: LMEvaluation,
    oracle: LMEvaluation,
    folder: Path | str,
    result: GateResult | None = None,
    *,
    title: str = "Language-model forgetting audit",
) -> tuple[Path, Path]:
    """Write ``lm-audit.json`` (evaluation, oracle, gate) and ``lm-audit.html`` into ``folder``; return both."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "evaluation": evaluation.to_dict(),
        "oracle": oracle.to_dict(),
        "gate": result.to_dict() if result is not None else None,
    }
    json_path = folder / "lm-audit.json"
    json_path.write_text(json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8")
    html_path = folder / "lm-audit.html"
    html_path.write_text(render_lm_html(evaluation, oracle, result, title=title), encoding="utf-8")
    return json_path, html_path
