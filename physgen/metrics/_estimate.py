"""A metric's value with its statistical uncertainty, as the field reports them (JetNet's ``fpd``
returns ``(value, error)``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Estimate"]


@dataclass(frozen=True)
class Estimate:
    """``value`` ± ``error``; ``error`` is NaN where the metric's source defines none (KS, ⟨S²⟩)."""

    value: float
    error: float = float("nan")

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "error", float(self.error))

    @property
    def has_error(self) -> bool:
        return math.isfinite(self.error)
