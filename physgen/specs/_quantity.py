"""Pydantic field types for quantities with units (``"90 mm"`` in YAML, pint in Python).

Every quantity in a spec is finite (``nan cm`` and ``inf mm`` are refused), has the
dimension its field needs, and, where physics requires it, a sign: radiation and
interaction lengths, Molière radii, densities, critical energies, plate thicknesses and
cell sizes are strictly positive; depths and thresholds are not negative. Strings are
parsed by :func:`physgen.units.parse_quantity`, which never evaluates arithmetic.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import pint
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from physgen.errors import PhysgenError
from physgen.units import format_quantity, parse_quantity

__all__ = [
    "Length", "Energy", "Density", "Angle", "AnyQuantity", "PositiveLength", "NonNegativeLength",
    "PositiveEnergy", "NonNegativeEnergy", "PositiveDensity", "quantity_type",
]

Sign = Literal["positive", "non_negative"] | None


def quantity_type(dimensionality: str | None, sign: Sign = None):
    """An annotated pint Quantity type: finite, checked to ``dimensionality`` and ``sign``
    (``"positive"``: > 0, ``"non_negative"``: ≥ 0), serialised to a string."""

    def _validate(value: object) -> pint.Quantity:
        try:
            q = parse_quantity(value, dimensionality)
        except PhysgenError as exc:
            raise ValueError(str(exc)) from None
        magnitude = float(q.magnitude)
        if not math.isfinite(magnitude):
            msg = f"must be a finite quantity, got {value!r}"
            raise ValueError(msg)
        if sign == "positive" and not magnitude > 0:
            msg = f"must be greater than zero, got {value!r}"
            raise ValueError(msg)
        if sign == "non_negative" and not magnitude >= 0:
            msg = f"must not be negative, got {value!r}"
            raise ValueError(msg)
        return q

    wanted = {"positive": "> 0", "non_negative": "≥ 0", None: "finite"}[sign]
    return Annotated[
        pint.Quantity,
        BeforeValidator(_validate),
        PlainSerializer(format_quantity, return_type=str),
        WithJsonSchema({"type": "string", "description": f"quantity with units {dimensionality or ''}, {wanted}"}),
    ]


Length = quantity_type("[length]")
Energy = quantity_type("[energy]")
Density = quantity_type("[mass] / [length] ** 3")
Angle = quantity_type("[]")
AnyQuantity = quantity_type(None)
PositiveLength = quantity_type("[length]", "positive")
NonNegativeLength = quantity_type("[length]", "non_negative")
PositiveEnergy = quantity_type("[energy]", "positive")
NonNegativeEnergy = quantity_type("[energy]", "non_negative")
PositiveDensity = quantity_type("[mass] / [length] ** 3", "positive")
