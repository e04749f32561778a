"""The audit report: a self-contained ``audit.html`` (plots embedded as PNG) beside ``audit.json``."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.pyplot as plt
import numpy as np

from expunge.audit._audit import AuditResult

__all__ = ["REPORT_PROBE", "REPORT_STYLE", "figure_html", "render_html", "write_report"]

COLORS = {"original": "#d62728", "unlearned": "#1f77b4", "reference": "#2ca02c"}
LABELS = {"original": "original", "unlearned": "unlearned", "reference": "retrained"}

REPORT_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.verdict{font-size:1.3rem;padding:.6rem 1rem;border-radius:6px;display:inline-block}
.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}
figure{display:inline-block;margin:.5rem}img{max-width:100%}figcaption{font-size:.85rem;color:#555}
.note{color:#555;font-size:.9rem}td.what{text-align:left}
"""

# Runs first: records script errors and image loading on <body>, so a headless browser can check the page.
REPORT_PROBE = """
window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e));});
window.addEventListener('load',function(){var imgs=document.images,ok=0;
for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}
document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-images-ok',ok);
document.body.setAttribute('data-js-errors',window.__errors.length);});
"""


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def figure_html(fig: plt.Figure, caption: str) -> str:
    """Return ``fig`` as an inline ``<figure>`` (base64 PNG at 90 dpi) with ``caption``; closes the figure."""
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{_png(fig)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _roc_plots(result: AuditResult) -> list[str]:
    out = []
    for attack, by_model in result.curves.items():
        fig, ax = plt.subplots(figsize=(4.2, 4.0))
        floor = 1.0 / max(result.n_nonmembers, 1)
        grid = np.logspace(np.log10(floor), 0, 50)
        ax.plot(grid, grid, color="#999", linestyle="--", linewidth=1, label="chance")
        for role, (fpr, tpr) in by_model.items():
            auc = result.attacks[attack][role].auc
            ax.step(
                np.maximum(fpr, floor),
                np.maximum(tpr, floor),
                where="post",
                color=COLORS.get(role),
                label=f"{LABELS.get(role, role)} (AUC {auc:.3f})",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.set_title(attack)
        ax.legend(fontsize=8, loc="lower right")
        out.append(figure_html(fig, f"ROC of {attack} on the forget set vs held-out non-members (log scale)"))
    return out


def _loss_plots(result: AuditResult) -> str:
    roles = list(result.losses)
    fig, axes = plt.subplots(1, len(roles), figsize=(4.0 * len(roles), 3.2), sharey=True, squeeze=False)
    for ax, role in zip(axes[0], roles, strict=True):
        for part, color in (("retain", "#7f7f7f"), ("test", "#17becf"), ("forget", COLORS.get(role, "#000"))):
            values = np.log10(result.losses[role][part] + 1e-7)
            ax.hist(values, bins=40, alpha=0.55, color=color, label=part, density=True)
        ax.set_title(LABELS.get(role, role))
        ax.set_xlabel("log10 loss")
        ax.legend(fontsize=8)
    return figure_html(fig, "Per-sample loss of forgotten, retained and test samples under each model")


def _relearn_plot(result: AuditResult) -> str:
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for role, curve in result.relearn.items():
        ax.plot(range(len(curve)), curve, marker="o", color=COLORS.get(role), label=LABELS.get(role, role))
    ax.set_xlabel("relearning step (Adam, lr 1e-3)")
    ax.set_ylabel("accuracy on held-back forgotten samples")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return figure_html(fig, "Relearning attack: accuracy regained on the forget set after a few steps")


def _bench_plot(bench: dict[str, Any]) -> str:
    summary = [row for row in bench["summary"]]
    names = [row["method"] for row in summary]
    keys = [
        ("unlearning_score", "Unlearning Score"),
        ("gap_to_retrain", "gap to retrain"),
        ("relearn_acc", "relearn acc"),
        ("head_reset_acc", "head-reset acc"),
    ]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(names)), 3.6))
    width = 0.8 / len(keys)
    for i, (key, label) in enumerate(keys):
        values = [row.get(key) if row.get(key) is not None else 0.0 for row in summary]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=label)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=35, ha="right")
    ax.legend(fontsize=8)
    c = bench["config"]
    return figure_html(fig, f"Per-method comparison: {c['dataset']} / {c['arch']}, forget {c['scenario']}")


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def render_html(result: AuditResult, *, title: str = "Unlearning audit", bench_dir: Path | None = None) -> str:
    """Return the self-contained HTML report of an audit (no network: every image is embedded)."""
    verdict = "pass" if result.passed else "fail"
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td>{_fmt(c.value)}</td><td>≤ {_fmt(c.threshold)}</td>"
        f"<td class='{'pass' if c.passed else 'fail'}'>{'pass' if c.passed else 'FAIL'}</td>"
        f"<td class='what'>{html.escape(c.detail)}</td></tr>"
        for c in result.criteria
    )
    attack_rows = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{LABELS.get(r, r)}</td><td>{_fmt(f.auc)}</td>"
        f"<td>{_fmt(f.auc_ci[0])} – {_fmt(f.auc_ci[1])}</td><td>{_fmt(f.tpr_at_0_1pct_fpr)}</td>"
        f"<td>{_fmt(f.tpr_at_1pct_fpr)}</td><td>{_fmt(f.balanced_accuracy)}</td></tr>"
        for a, by_model in result.attacks.items()
        for r, f in by_model.items()
    )
    set_rows = "".join(
        f"<tr><td>{LABELS.get(r, r)}</td><td>{_fmt(t.z)}</td><td>{t.p_value:.2e}</td><td>{t.set_size}</td></tr>"
        for r, t in result.set_level.items()
    )
    other_rows = "".join(
        f"<tr><td>{LABELS.get(r, r)}</td><td>{_fmt(result.forget_acc.get(r))}</td>"
        f"<td>{_fmt(result.relearn[r][-1])}</td><td>{_fmt(result.head_reset.get(r))}</td>"
        f"<td>{_fmt(result.probe.get(r))}</td><td>{_fmt(result.anchor_acc.get(r))}</td>"
        f"<td>{_fmt(result.kl_anchor.get(r))}</td></tr>"
        for r in result.relearn
    )
    plots = [*_roc_plots(result), _loss_plots(result), _relearn_plot(result)]
    bench_html = ""
    if bench_dir is not None:
        bench = json.loads((Path(bench_dir) / "results.json").read_text(encoding="utf-8"))
        bench_html = f"<h2>Methods compared</h2>{_bench_plot(bench)}"
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>{REPORT_PROBE}</script><style>{REPORT_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="verdict {verdict}">Audit gate: {verdict.upper()}</p>
<p class="note">{result.n_forget} forgotten samples against {result.n_nonmembers} held-out non-members;
{result.shadows} shadow models; audit took {result.seconds:.1f} s
(shadow training {result.shadow_train_seconds:.1f} s).</p>
<h2>Criteria</h2>
<table><tr><th>criterion</th><th>measured</th><th>threshold</th><th>result</th><th>what</th></tr>{rows}</table>
<h2>Membership inference on the forget set</h2>
<table><tr><th>attack</th><th>model</th><th>AUC</th><th>95 % CI</th><th>TPR @ 0.1 % FPR</th><th>TPR @ 1 % FPR</th>
<th>balanced acc.</th></tr>{attack_rows}</table>
<h3>Set-level test</h3>
<table><tr><th>model</th><th>z</th><th>p</th><th>set size</th></tr>{set_rows}</table>
{"".join(plots[:-2])}
<h2>Beyond membership inference</h2>
<table><tr><th>model</th><th>forget acc.</th><th>relearn acc.</th><th>head-reset acc.</th><th>probe acc.</th>
<th>anchor acc.</th><th>KL on anchor</th></tr>{other_rows}</table>
{"".join(plots[-2:])}
{bench_html}
{f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""}
</body></html>
"""


def write_report(
    result: AuditResult, folder: Path | str, *, title: str = "Unlearning audit", bench_dir: Path | None = None
) -> tuple[Path, Path]:
    """Write ``audit.json`` and ``audit.html`` into ``folder``; return both paths."""
    folder = Path(folder)
    json_path = result.write_json(folder)
    html_path = folder / "audit.html"
    html_path.write_text(render_html(result, title=title, bench_dir=bench_dir), encoding="utf-8")
    return json_path, html_path
