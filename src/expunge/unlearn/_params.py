"""Declared, validated method parameters: one frozen dataclass per method, checked in one place."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from expunge.errors import InvalidParameterError

__all__ = ["MethodParams", "param"]


def param(
    default: Any,
    help: str,  # mirrors argparse/typer's word
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: tuple[Any, ...] | None = None,
    tune: tuple[float, float] | None = None,
    tune_log: bool = False,
) -> Any:
    """Declare a parameter field: its default, documentation, accepted range and tuning range.

    Args:
        default: Default value; its type (int, float, bool, str) is the accepted type.
        help: One sentence saying what the parameter does.
        low: Smallest accepted value (inclusive unless ``low_open``).
        high: Largest accepted value (inclusive unless ``high_open``).
        low_open: Exclude ``low`` itself.
        high_open: Exclude ``high`` itself.
        choices: The only accepted values.
        tune: ``(low, high)`` range searched by dose tuning; ``None`` keeps the parameter fixed.
        tune_log: Search ``tune`` on a log scale.
    """
    meta = {
        "help": help,
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "choices": choices,
        "tune": tune,
        "tune_log": tune_log,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class MethodParams:
    """Base of every method's parameters: validates each declared field after construction."""

    owner: ClassVar[str] = "method"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            self._check(f, getattr(self, f.name))

    def _check(self, f: dataclasses.Field, value: Any) -> None:
        meta = f.metadata
        kind = type(f.default)
        if kind is bool:
            ok, expected = isinstance(value, bool), "a bool"
        elif kind is int:
            ok, expected = isinstance(value, int) and not isinstance(value, bool), "an int"
        elif kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            expected = "a float"
        else:
            ok, expected = isinstance(value, kind), f"a {kind.__name__}"
        if ok and meta.get("choices") is not None:
            ok = value in meta["choices"]
            expected = f"one of {list(meta['choices'])}"
        elif ok and (meta.get("low") is not None or meta.get("high") is not None):
            low, high = meta.get("low"), meta.get("high")
            if low is not None:
                ok = ok and (value > low if meta["low_open"] else value >= low)
            if high is not None:
                ok = ok and (value < high if meta["high_open"] else value <= high)
            left = "(" if meta["low_open"] or low is None else "["
            right = ")" if meta["high_open"] or high is None else "]"
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            expected = f"{expected} in {left}{lo}, {hi}{right}"
        if not ok:
            raise InvalidParameterError(
                f"The {f.name!r} parameter of {self.owner} must be {expected}. Got {value!r} instead."
            )

    def to_json(self) -> dict[str, Any]:
        """Return the parameters as a JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> MethodParams:
        """Build parameters from a mapping, rejecting unknown names.

        Raises:
            InvalidParameterError: A name is not a parameter of this method, or a value is out of range.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidParameterError(
                f"{cls.owner} has no parameter {', '.join(map(repr, unknown))}. "
                f"Accepted: {', '.join(sorted(names)) or '(none)'}."
            )
        return cls(**values)

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """Return one dict per parameter: name, default, help, accepted range, tuning range."""
        return [{"name": f.name, "default": f.default, **dict(f.metadata)} for f in dataclasses.fields(cls)]

    @classmethod
    def tunable(cls) -> dict[str, tuple[float, float, bool, type]]:
        """Return ``name -> (low, high, log, type)`` for every parameter with a tuning range."""
        return {
            f.name: (f.metadata["tune"][0], f.metadata["tune"][1], f.metadata["tune_log"], type(f.default))
            for f in dataclasses.fields(cls)
            if f.metadata.get("tune") is not None
        }
