"""Open a self-contained HTML report in headless Chromium and read back what its load probe recorded.

The reports (``expunge.audit.REPORT_PROBE``) count their images, the images that loaded and script errors into
attributes of ``<body>``; :func:`render_page` returns those counts, the rendered DOM and Chromium's console errors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Debian's chromium is not installed (python3.11 dev.py test installs it)"


@dataclass(frozen=True)
class RenderedPage:
    dom: str
    images: int
    images_loaded: int
    js_errors: int
    console_errors: list[str]


def render_page(html_path: Path, profile_dir: Path) -> RenderedPage:
    """Render ``html_path`` with a 5 s virtual-time budget; assert Chromium exits 0 and a ``<body>`` is there."""
    assert CHROMIUM is not None, NO_CHROMIUM
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
            f"--user-data-dir={profile_dir}",
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

    def count(name: str) -> int:
        return int(re.search(rf'{name}="(\d+)"', body.group(0)).group(1))

    return RenderedPage(
        dom=proc.stdout,
        images=count("data-images"),
        images_loaded=count("data-images-ok"),
        js_errors=count("data-js-errors"),
        console_errors=[line for line in proc.stderr.splitlines() if "CONSOLE" in line and "rror" in line],
    )
