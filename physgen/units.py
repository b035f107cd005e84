"""The one pint unit registry of physgen and small helpers around it.

pint-xarray's registry is used so that ``ds.pint.quantify()`` on a store and the
quantities in specs share units. Units live as strings in ``attrs["units"]`` on
disk and as :class:`pint.Quantity` in memory.
"""

from __future__ import annotations

import re
import reprlib

import pint
import pint_xarray

from physgen.errors import PhysgenError

__all__ = ["ureg", "Quantity", "parse_quantity", "check_units", "format_quantity", "to_magnitude"]

ureg: pint.UnitRegistry = pint_xarray.unit_registry
Quantity = ureg.Quantity


_NUMBER = r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|nan|inf(?:inity)?)"
_UNIT_NAME = r"[^\W\d][\w]*"  # a unit or prefix name: letters (µ, Å, Ω too), then letters, digits, _
_POWER = r"(?:\s*(?:\*\*|\^)\s*[+-]?\d{1,2}(?:\.\d{1,3})?)?"
_UNIT_TERM = rf"(?:{_UNIT_NAME}|\(\s*{_UNIT_NAME}{_POWER}\s*\)){_POWER}"
_UNITS = rf"(?:1\s*/\s*)?{_UNIT_TERM}(?:\s*[*/]?\s*{_UNIT_TERM})*"
_UNITS_RE = re.compile(rf"^\s*{_UNITS}\s*$")
_QUANTITY_RE = re.compile(rf"^\s*(?P<number>{_NUMBER})(?:\s*(?P<units>{_UNITS}))?\s*$", re.IGNORECASE)
"""Quantities are a number and a product of unit names with small integer powers, e.g. ``"1.396 g/cm^3"``.
pint would evaluate any arithmetic (``"9**9**9 mm"`` never returns), so strings are matched against
this grammar first and only the unit part reaches pint."""


def _units(text: str, original: object) -> pint.Unit:
    if not _UNITS_RE.match(text):
        msg = (f"cannot read {original!r} as units: write unit names with integer powers, "
               f"e.g. 'mm', 'g/cm^3', '1/GeV'")
        raise PhysgenError(msg)
    try:
        return ureg.parse_units(text.strip())
    except Exception as exc:  # pint raises several unrelated types (UndefinedUnitError, DefinitionSyntaxError, ...)
        msg = f"cannot read {original!r} as units ({exc}); write e.g. 'mm', 'g/cm^3', 'GeV'"
        raise PhysgenError(msg) from None


def parse_quantity(value: object, dimensionality: str | None = None) -> pint.Quantity:
    """Parse ``"90 mm"``, ``{"value": 90, "units": "mm"}``, a number or a Quantity.

    A bare number is accepted only for dimensionless quantities. ``dimensionality``
    (e.g. ``"[length]"``) is checked when given. Strings are a number followed by units
    (no arithmetic: ``"5 mm + 3 kg"`` and ``"9**9**9 mm"`` are refused, never evaluated).
    """
    try:
        if isinstance(value, pint.Quantity):
            q = Quantity(float(value.magnitude), value.units)
        elif isinstance(value, dict) and set(value) == {"value", "units"} and isinstance(value["units"], str) \
                and isinstance(value["value"], (int, float)) and not isinstance(value["value"], bool):
            q = Quantity(float(value["value"]), _units(value["units"], value))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            q = Quantity(float(value), "dimensionless")
        elif isinstance(value, str) and (match := _QUANTITY_RE.match(value)):
            units = match["units"]
            q = Quantity(float(match["number"]), _units(units, value) if units else "dimensionless")
        else:
            msg = (f"expected one number followed by units, such as '90 mm' or '1.5 GeV' (expressions are not "
                   f"evaluated), got {reprlib.repr(value)}")
            raise PhysgenError(msg)
    except OverflowError:
        msg = f"{reprlib.repr(value)} is too large for a floating-point number"
        raise PhysgenError(msg) from None
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
    """Return ``units`` if it is a product of unit names that pint knows ("" is dimensionless), else raise
    :class:`PhysgenError` (no arithmetic is evaluated)."""
    if not isinstance(units, str):
        msg = f"units must be a string such as 'GeV' or 'mm', got {units!r}"
        raise PhysgenError(msg)
    if units.strip():
        _units(units, units)
    return units
