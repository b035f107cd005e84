"""Feature-schema specs: named per-event quantities with units, dtype and valid range."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PositiveInt, ValidationInfo, field_validator, model_validator

from physgen import plugins
from physgen.specs._base import SpecModel
from physgen.specs._options import OptionErrors, checking_plugins
from physgen.units import check_units

__all__ = ["Feature", "FeatureSchemaSpec", "DTYPES"]

def _not_nan(value: float) -> float:
    if math.isnan(value):
        msg = "a range bound must be a number or ±.inf, not nan"
        raise ValueError(msg)
    return value


DTYPES = ("float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


_Bound = Annotated[float, Field(allow_inf_nan=True), AfterValidator(_not_nan)]


class Feature(SpecModel):
    """One stored per-event feature; ``shape``/``dims`` for small per-event vectors (e.g. per-layer overflow)."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    units: str = ""
    dtype: Literal[DTYPES] = "float32"  # type: ignore[valid-type]
    description: str = ""
    range: tuple[_Bound, _Bound] | None = Field(None, description="valid [low, high] range (inclusive; ±.inf open)")
    shape: tuple[PositiveInt, ...] = ()
    dims: tuple[str, ...] = ()
    role: Literal["feature", "label", "weight"] = Field(
        "feature", description="a physics feature, a class label or an event weight; metrics compare only features")

    @field_validator("units")
    @classmethod
    def _parse_units(cls, units: str) -> str:
        return check_units(units)

    @model_validator(mode="after")
    def _consistent(self):
        if len(self.shape) != len(self.dims):
            msg = f"feature {self.name!r}: shape {self.shape} and dims {self.dims} must have the same length"
            raise ValueError(msg)
        if self.range is not None and not self.range[0] <= self.range[1]:
            msg = f"feature {self.name!r}: range {self.range} has low > high"
            raise ValueError(msg)
        return self


class FeatureSchemaSpec(SpecModel):
    """A feature schema: stored features plus the names of derived observables users compute from them."""

    kind: Literal["features"] = "features"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    features: list[Feature] = Field(min_length=1)
    observables: list[str] = Field(default_factory=list, description="names in physgen.observables' registry")

    @field_validator("features")
    @classmethod
    def _unique(cls, features: list[Feature]) -> list[Feature]:
        names = [f.name for f in features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"duplicate feature names {dupes}"
            raise ValueError(msg)
        return features

    @model_validator(mode="after")
    def _observables_exist(self, info: ValidationInfo):
        """Every name of ``observables`` is registered (:data:`physgen.plugins.OBSERVABLES`)."""
        if checking_plugins(info):
            errors = OptionErrors("observables")
            for i, name in enumerate(self.observables):
                errors.plugin(plugins.OBSERVABLES, name, ("observables", i))
            errors.raise_any()
        return self

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]
