"""The LM audit report: self-contained HTML with its plots, JSON beside it, checked in headless Chromium."""

from __future__ import annotations

import base64
import json
import re

import pytest

from browser import CHROMIUM, NO_CHROMIUM, render_page
from expunge.lm._gate import gate
from expunge.lm._html import write_lm_report


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


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_report_renders_in_headless_chromium_without_errors(report, tmp_path):
    _, html_path = report
    page = render_page(html_path, tmp_path / "profile")
    assert page.images >= 7 and page.images_loaded == page.images and page.js_errors == 0
    assert not page.console_errors, page.console_errors
    assert "LM audit gate: FAIL" in page.dom
