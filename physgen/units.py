"""The one pint unit registry of physgen and small helpers around it.

pint-xarray's registry is used so that ``ds.pint.quantify()`` on a store and the
quantities in specs share units. Units live as strings in ``attrs["units"]`` on
disk and as :class:`pint.Quantity` in memory.
"""

from __future__ import annotations

import pint
import pint_xarray

from physgen.errors import PhysgenError

__all__ = ["ureg", "Quantity", "parse_quantity", "check_units", "format_quantity", "to_magnitude"]

ureg: pint.UnitRegistry = pint_xarray.unit_registry
Quantity = ureg.Quantity


def parse_quantity(value: object, dimensionality: str | None = None) -> pint.Quantity:
    """Parse ``"90 mm"``, ``{"value": 90, "units": "mm"}``, a number or a Quantity.

    A bare number is accepted only for dimensionless quantities. ``dimensionality``
    (e.g. ``"[length]"``) is checked when given.
    """
    if isinstance(value, pint.Quantity):
        q = Quantity(float(value.magnitude), str(value.units))
    elif isinstance(value, dict) and set(value) == {"value", "units"}:
        q = Quantity(float(value["value"]), value["units"])
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        q = Quantity(float(value), "dimensionless")
    elif isinstance(value, str):
        try:
            q = ureg.Quantity(value)
        except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError, AttributeError) as exc:
            msg = f"cannot parse {value!r} as a quantity with units ({exc}); write e.g. '90 mm' or '1.5 GeV'"
            raise PhysgenError(msg) from None
        q = Quantity(float(q.magnitude), str(q.units)) if isinstance(q, pint.Quantity) else Quantity(float(q), "dimensionless")
    else:
        msg = f"expected a quantity such as '90 mm', got {value!r}"
        raise PhysgenError(msg)
    if dimensionality is not None and not q.check(dimensionality):
        msg = f"expected a quantity of dimension {dimensionality}, got {value!r} ({q.dimensionality})"
        raise PhysgenError(msg)
    return q


def format_quantity(q: pint.Quantity) -> str:
    """Inverse of :func:`parse_quantity`: ``Quantity(90, 'mm') -> '90.0 mm'`` (exact round trip)."""
    units = f"{q.units:~}" or "dimensionless"
    return f"{float(q.magnitude)!r} {units}"


def to_magnitude(q: pint.Quantity, units: str) -> float:
    """Magnitude of ``q`` in ``units``."""
    return float(q.to(units).magnitude)


def check_units(units: str) -> str:
    """Return ``units`` if pint can parse it, else raise :class:`PhysgenError`."""
    try:
        ureg.Unit(units)
    except Exception as exc:  # pint raises several unrelated types here
        msg = f"units {units!r} are not understood by pint ({exc})"
        raise PhysgenError(msg) from None
    return units
