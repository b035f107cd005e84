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
    def weight_name(self) -> str | None:
        """The per-event variable its feature schema marks as the event weight (``role: weight``), when
        the dataset holds it; None otherwise (every event then counts once)."""
        features = self.features
        names = [f.name for f in features.features if f.role == "weight"] if features is not None else []
        return next((n for n in names if n in self._ds.data_vars), None)

    @property
    def geometry(self) -> StoreSchema | None:
        """The detector's cell variables and coordinates (with units and edges)."""
        detector = self.detector
        return detector_schema(detector) if detector else None
