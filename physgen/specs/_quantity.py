"""Pydantic field types for quantities with units (``"90 mm"`` in YAML, pint in Python)."""

from __future__ import annotations

from typing import Annotated

import pint
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from physgen.errors import PhysgenError
from physgen.units import format_quantity, parse_quantity

__all__ = ["Length", "Energy", "Density", "Angle", "AnyQuantity", "quantity_type"]


def quantity_type(dimensionality: str | None):
    """An annotated pint Quantity type checked to ``dimensionality`` that serialises to a string."""

    def _validate(value: object) -> pint.Quantity:
        try:
            return parse_quantity(value, dimensionality)
        except PhysgenError as exc:
            raise ValueError(str(exc)) from None

    return Annotated[
        pint.Quantity,
        BeforeValidator(_validate),
        PlainSerializer(format_quantity, return_type=str),
        WithJsonSchema({"type": "string", "description": f"quantity with units {dimensionality or ''}"}),
    ]


Length = quantity_type("[length]")
Energy = quantity_type("[energy]")
Density = quantity_type("[mass] / [length] ** 3")
Angle = quantity_type("[]")
AnyQuantity = quantity_type(None)
