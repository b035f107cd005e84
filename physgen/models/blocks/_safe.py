"""Division and square root for features computed inside the graph, with finite gradients everywhere.

A generator's output can hold an empty layer or jet (a zero denominator) or one holding a subnormal
number; ``where`` alone does not help there, because the gradient of the branch not taken is still
computed and ``0 · inf`` is NaN. Both functions divide or take the root only where the argument is
above ``tiny`` and substitute 1 elsewhere before doing so.
"""

from __future__ import annotations

import torch

__all__ = ["safe_ratio", "safe_sqrt"]


def safe_ratio(num: torch.Tensor, den: torch.Tensor, tiny: float = 0.0) -> torch.Tensor:
    """num/den, 0 where den ≤ ``tiny`` (an empty shower, layer or jet), with finite gradients everywhere."""
    nonzero = den > tiny
    return torch.where(nonzero, num / torch.where(nonzero, den, torch.ones_like(den)), torch.zeros_like(num))


def safe_sqrt(x: torch.Tensor, tiny: float = 0.0) -> torch.Tensor:
    """√x, 0 at and below ``tiny`` with a finite gradient there (√ has an infinite one at 0)."""
    positive = x > tiny
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), torch.zeros_like(x))
