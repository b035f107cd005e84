"""Store schema of a dataset spec: detector cells + feature-schema features."""

from __future__ import annotations

import numpy as np

from physgen.geometry import detector_schema
from physgen.schema import StoreSchema, VariableSchema
from physgen.specs import DatasetSpec, DetectorSpec, FeatureSchemaSpec, LoadedSpec, SpecRegistry

__all__ = ["ResolvedDataset", "resolve_dataset", "feature_variables", "default_chunk_events"]

TARGET_CHUNK_BYTES = 4 * 2**20
"""Default uncompressed size of one event chunk (a few MB, as the design card says)."""


class ResolvedDataset:
    """A dataset spec with its referenced detector and feature schema loaded, and the store schema."""

    def __init__(self, dataset: LoadedSpec, detector: LoadedSpec | None, features: LoadedSpec | None):
        self.dataset = dataset
        self.detector = detector
        self.features = features
        parts: list[VariableSchema] = []
        coords: dict = {}
        if detector is not None:
            cells = detector_schema(self.detector_spec)
            parts += cells.variables
            coords |= cells.coords
        if features is not None:
            parts += feature_variables(self.feature_spec)
        self.schema = StoreSchema(tuple(parts), coords)

    @property
    def spec(self) -> DatasetSpec:
        return self.dataset.spec  # type: ignore[return-value]

    @property
    def detector_spec(self) -> DetectorSpec | None:
        return self.detector.spec if self.detector else None  # type: ignore[return-value]

    @property
    def feature_spec(self) -> FeatureSchemaSpec | None:
        return self.features.spec if self.features else None  # type: ignore[return-value]

    @property
    def chunk_events(self) -> int:
        detector_default = self.detector_spec.chunk_events if self.detector_spec else None
        return self.spec.chunk_events or detector_default or default_chunk_events(self.schema)

    def spec_texts(self) -> dict[str, dict[str, str]]:
        """Every spec this dataset is made of, as stored in provenance."""
        out = {}
        for role, loaded in (("dataset", self.dataset), ("detector", self.detector), ("features", self.features)):
            if loaded is not None:
                out[role] = loaded.provenance()
        return out


def resolve_dataset(dataset: LoadedSpec | str, registry: SpecRegistry | None = None) -> ResolvedDataset:
    """Load a dataset spec (path, name or loaded) and the detector and features it names."""
    if isinstance(dataset, str):
        registry = registry or SpecRegistry.default(near=dataset)
        dataset = registry.resolve(dataset, kind="dataset")
    registry = registry or SpecRegistry.default(near=dataset.source if dataset.source.endswith((".yaml", ".yml")) else None)
    spec = dataset.spec
    if not isinstance(spec, DatasetSpec):
        from physgen.errors import SpecError

        msg = f"{dataset.source}: expected a dataset spec, got kind {spec.kind!r}"
        raise SpecError(msg)
    detector = registry.get("detector", spec.detector) if spec.detector else None
    features = registry.get("features", spec.features) if spec.features else None
    return ResolvedDataset(dataset, detector, features)


def feature_variables(schema: FeatureSchemaSpec) -> list[VariableSchema]:
    return [
        VariableSchema(f.name, f.dims, f.shape, f.dtype, f.units, f.description or f.name, f.range)
        for f in schema.features
    ]


def default_chunk_events(schema: StoreSchema) -> int:
    per_event = sum(int(np.prod(v.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize for v in schema.variables)
    return int(np.clip(TARGET_CHUNK_BYTES // max(per_event, 1), 256, 100_000))
