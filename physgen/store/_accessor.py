"""The ``ds.physgen`` accessor: the specs, geometry and provenance of an opened store."""

from __future__ import annotations

from typing import Any

import xarray as xr
import yaml

from physgen.geometry import detector_schema
from physgen.schema import StoreSchema
from physgen.specs import DatasetSpec, DetectorSpec, FeatureSchemaSpec, parse_spec
from physgen.store._url import ATTR

__all__ = ["PhysgenAccessor"]


@xr.register_dataset_accessor("physgen")
class PhysgenAccessor:
    """``ds.physgen.spec``, ``.detector``, ``.features``, ``.geometry``, ``.provenance`` of a store."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self._ds.attrs.get(ATTR, {}))

    def _spec(self, role: str):
        entry = self.provenance.get("specs", {}).get(role)
        return (parse_spec(yaml.safe_load(entry["text"]), source=f"store provenance ({role})", plugins=False)
                if entry else None)

    @property
    def spec(self) -> DatasetSpec | None:
        return self._spec("dataset")

    @property
    def detector(self) -> DetectorSpec | None:
        return self._spec("detector")

    @property
    def features(self) -> FeatureSchemaSpec | None:
        return self._spec("features")

    @property
    def geometry(self) -> StoreSchema | None:
        """The detector's cell variables and coordinates (with units and edges)."""
        detector = self.detector
        return detector_schema(detector) if detector else None
