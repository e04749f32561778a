"""The LM audit report: self-contained HTML with its plots, JSON beside it, checked in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess

import pytest

from expunge.lm._gate import gate
from expunge.lm._html import write_lm_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory, lm_evaluations):
    target, oracle = lm_evaluations
    folder = tmp_path_factory.mktemp("lm-report")
    return write_lm_report(target, oracle, folder, gate(target, oracle), title="tiny LM audit")


def test_report_is_self_contained_with_its_plots(report, lm_evaluations):
    json_path, html_path = report
    doc = json.loads(json_path.read_text())
    assert doc["gate"]["passed"] is False and doc["evaluation"]["n_forget_questions"] == 6
    assert doc["evaluation"]["oracle"]["forget_quality"]["n"] == 6
    page = html_path.read_text()
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert "LM audit gate: FAIL" in page and "forget_quality_min" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    # truth ratios, 4 ROC curves, accuracies, canary exposure
    assert len(images) >= 7
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    target, _ = lm_evaluations
    assert f"{target.oracle.privleak:.4g}" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (python3.11 dev.py test installs it)")
def test_report_renders_in_headless_chromium_without_errors(report, tmp_path):
    _, html_path = report
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            html_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body[^>]*>", proc.stdout)
    assert body, proc.stdout[:500]
    images = int(re.search(r'data-images="(\d+)"', body.group(0)).group(1))
    loaded = int(re.search(r'data-images-ok="(\d+)"', body.group(0)).group(1))
    errors = int(re.search(r'data-js-errors="(\d+)"', body.group(0)).group(1))
    assert images >= 7 and loaded == images and errors == 0
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert not console_errors, console_errors
    assert "LM audit gate: FAIL" in proc.stdout
