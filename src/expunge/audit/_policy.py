"""The audit gate's policy: which criteria an unlearned model must meet, read from TOML.

The default thresholds, and why:

- ``set_level_z_max = 2.0``: the unlearned model's set-level z on the forget set (primary attack). Measured on
  an MNIST MLP with 600 forgotten samples, the original model sits at z ≈ 4–5 and a retrained one at z ≈ 0–1;
  2.0 is a one-sided p ≈ 0.02, beyond which the forget set still looks like training data.
- ``auc_gap_max = 0.05``: for each attack, the unlearned model's AUC on the forget set may differ from the
  retrained reference's by at most 5 points — beyond that an attacker can tell the two apart.
- ``relearn_gap_max = 0.05``: the relearning attack may recover at most 5 points more accuracy on the forget
  set than it does on the retrained reference (a suppressed class snaps back to 50–99 %).
- ``head_reset_gap_max = 0.05``: class forgetting only; resetting the class's output bias may recover at most
  5 points more than on the reference (the output-bias trick recovers ~99 %).
- ``anchor_acc_drop_max = 0.03``: accuracy on the anchor set may fall at most 3 points below the original's.
- ``kl_anchor_max = 1.0``: mean KL(original ‖ unlearned) on the anchor set, in nats, so collateral damage
  that keeps accuracy but scrambles confidences is caught.
- ``canary_exposure_gap_max = 1.0``: when canaries were planted, their exposure may exceed a never-trained
  model's by at most 1 bit.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from expunge.errors import ConfigError

__all__ = ["DEFAULT_ATTACKS", "Policy", "load_policy"]

DEFAULT_ATTACKS = ("loss_threshold", "confidence_svm", "calibrated", "lira")


@dataclass(frozen=True)
class Policy:
    """Thresholds of the audit gate; see the module docstring for why each default was chosen.

    A criterion set to ``None`` (``"off"`` in TOML) is not checked. ``required_fprs`` lists false-positive rates
    whose TPR must be measurable: the audit refuses to run when there are too few non-members for one of them
    (otherwise such a figure is reported as ``null`` with a warning).
    """

    set_level_z_max: float | None = 2.0
    auc_gap_max: float | None = 0.05
    relearn_gap_max: float | None = 0.05
    head_reset_gap_max: float | None = 0.05
    anchor_acc_drop_max: float | None = 0.03
    kl_anchor_max: float | None = 1.0
    canary_exposure_gap_max: float | None = 1.0
    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    set_level_attack: str = "lira"
    shadows: int = 8
    relearn_steps: int = 10
    relearn_samples: int = 32
    bootstrap: int = 200
    required_fprs: tuple[float, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def criteria(self) -> dict[str, float]:
        """Return the enabled thresholds by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name.endswith("_max") and getattr(self, f.name) is not None
        }


_CRITERIA = tuple(f.name for f in fields(Policy) if f.name.endswith("_max"))
_SETTINGS = (
    "attacks",
    "set_level_attack",
    "shadows",
    "relearn_steps",
    "relearn_samples",
    "bootstrap",
    "required_fprs",
)


def load_policy(path: Path | str | None) -> Policy:
    """Read a policy file (``[criteria]`` thresholds and ``[audit]`` settings); ``None`` gives the default.

    Raises:
        ConfigError: The file is unreadable, is not TOML, names an unknown criterion or setting, or gives a value
            of the wrong type.
    """
    if path is None:
        return Policy()
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"Cannot read the policy file {str(path)!r}: {err.strerror}.") from err
    except (tomllib.TOMLDecodeError, UnicodeError) as err:
        raise ConfigError(f"The policy file {str(path)!r} is not valid TOML: {err}.") from err
    unknown_tables = sorted(set(doc) - {"criteria", "audit"})
    if unknown_tables:
        raise ConfigError(f"Unknown table(s) {unknown_tables} in {path}; allowed: [criteria], [audit].")
    values: dict[str, Any] = {}
    for name, value in doc.get("criteria", {}).items():
        if name not in _CRITERIA:
            raise ConfigError(f"Unknown criterion {name!r} in {path}. Known criteria: {', '.join(sorted(_CRITERIA))}.")
        if value == "off":
            values[name] = None
        elif isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            values[name] = float(value)
        else:
            raise ConfigError(f'The criterion {name!r} must be a number >= 0 or "off"; got {value!r}.')
    for name, value in doc.get("audit", {}).items():
        if name not in _SETTINGS:
            raise ConfigError(f"Unknown audit setting {name!r} in {path}. Known settings: {', '.join(_SETTINGS)}.")
        values[name] = tuple(value) if name in ("attacks", "required_fprs") else value
    try:
        policy = Policy(**values)
    except TypeError as err:
        raise ConfigError(f"Invalid policy {path}: {err}.") from err
    if not isinstance(policy.shadows, int) or policy.shadows < 2 or policy.shadows % 2:
        raise ConfigError(f"The audit setting 'shadows' must be an even int >= 2; got {policy.shadows!r}.")
    return policy
