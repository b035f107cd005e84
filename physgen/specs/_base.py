"""Common base of every spec model: strict keys, frozen, YAML-friendly dumps."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["SpecModel"]


class SpecModel(BaseModel):
    """Base for spec objects: unknown keys are errors, instances are immutable, and numbers are finite
    (``nan`` and ``.inf`` are refused wherever a float is expected, unless a field allows them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, populate_by_name=True,
                              allow_inf_nan=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form that :meth:`from_dict` (and YAML) round-trips exactly."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return cls.model_validate(data)
