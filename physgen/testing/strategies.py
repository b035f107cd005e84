"""Hypothesis strategies for physgen specs, events and stores.

Primitive strategies are module-level values; builders are ``@st.composite`` functions
with keyword-only arguments::

    @given(detector_specs())
    def test_round_trip(detector): ...

    @given(st.data())
    def test_append(data):
        schema = data.draw(store_schemas())
        batch = data.draw(events(schema, n_events=10))
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from physgen.geometry import detector_schema
from physgen.schema import StoreSchema, VariableSchema
from physgen.specs import DetectorSpec, FeatureSchemaSpec
from physgen.store import create_store, feature_variables

__all__ = ["names", "units", "detector_specs", "feature_schema_specs", "store_schemas", "events", "stores"]

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
"""Valid spec and variable names."""

units = st.sampled_from(["GeV", "MeV", "mm", "rad", "dimensionless", "GeV/c", "ns", "1/mm"])
"""Unit strings pint understands."""

_lengths_mm = st.floats(0.5, 200.0, allow_nan=False).map(lambda v: round(v, 3))
_materials = [
    {"name": "Pb", "Z": 82, "A": 207.2, "density": "11.35 g/cm^3", "X0": "0.5612 cm", "moliere_radius": "1.602 cm",
     "critical_energy": "7.43 MeV", "lambda_int": "17.59 cm"},
    {"name": "LAr", "Z": 18, "A": 39.95, "density": "1.396 g/cm^3", "X0": "14.0 cm", "moliere_radius": "9.043 cm",
     "critical_energy": "32.84 MeV", "lambda_int": "85.77 cm"},
]


@st.composite
def _eta_phi(draw) -> dict:
    return {
        "type": "eta_phi_grid",
        "n_eta": draw(st.integers(1, 12)),
        "n_phi": draw(st.integers(1, 12)),
        "cell_eta": draw(st.floats(0.01, 0.5).map(lambda v: round(v, 4))),
        "cell_phi": draw(st.floats(0.01, 0.5).map(lambda v: round(v, 4))),
    }


@st.composite
def _layered(draw) -> dict:
    n_layers = draw(st.integers(1, 4))
    layers, depth = [], 0.0
    for i in range(n_layers):
        thickness = draw(_lengths_mm)
        layers.append({"name": f"layer_{i}", "depth": f"{depth} mm", "thickness": f"{thickness} mm",
                       "cells": [draw(st.integers(1, 8)), draw(st.integers(1, 8))],
                       "cell_size": [f"{draw(_lengths_mm)} mm", f"{draw(_lengths_mm)} mm"]})
        depth = round(depth + thickness, 3)
    return {"type": "layered", "materials": _materials, "layers": layers, "overflow": draw(st.booleans()),
            "sections": [{"periods": draw(st.integers(1, 50)), "absorber": "Pb", "absorber_thickness": "2 mm",
                          "active": "LAr", "active_thickness": "4 mm"}]}


@st.composite
def _voxel(draw) -> dict:
    periods = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
    return {"type": "voxel", "materials": _materials,
            "cells": [sum(periods), draw(st.integers(1, 6)), draw(st.integers(1, 6))],
            "cell_size": [f"{draw(_lengths_mm)} mm", f"{draw(_lengths_mm)} mm"],
            "sections": [{"periods": p, "absorber": "Pb", "absorber_thickness": f"{draw(_lengths_mm)} mm",
                          "active": "LAr", "active_thickness": "0.5 mm"} for p in periods],
            "threshold": draw(st.sampled_from([None, "0.1 MeV"]))}


@st.composite
def detector_specs(draw, *, kinds: tuple[str, ...] = ("eta_phi_grid", "layered", "voxel")) -> DetectorSpec:
    """Valid detector specs of the given geometry kinds, small enough to store quickly."""
    builders = {"eta_phi_grid": _eta_phi, "layered": _layered, "voxel": _voxel}
    geometry = draw(st.sampled_from(kinds).flatmap(lambda k: builders[k]()))
    geometry = {k: v for k, v in geometry.items() if v is not None}
    data = {"kind": "detector", "name": draw(names), "geometry": geometry}
    if draw(st.booleans()):
        data["chunk_events"] = draw(st.integers(1, 64))
    return DetectorSpec.model_validate(data)


@st.composite
def feature_schema_specs(draw, *, max_features: int = 5) -> FeatureSchemaSpec:
    """Feature schemas with unique names, random units and dtypes, some with a per-event vector shape."""
    feature_names = draw(st.lists(names, min_size=1, max_size=max_features, unique=True))
    features = []
    for name in feature_names:
        feature = {"name": name, "units": draw(units), "dtype": draw(st.sampled_from(["float32", "float64", "int32"]))}
        if draw(st.booleans()):
            size = draw(st.integers(1, 4))
            feature |= {"shape": [size], "dims": [f"{name}_index"]}
        features.append(feature)
    return FeatureSchemaSpec.model_validate({"kind": "features", "name": draw(names), "features": features})


@st.composite
def store_schemas(draw) -> StoreSchema:
    """Store schemas of a random detector, a random feature schema, or both."""
    parts: list[VariableSchema] = []
    coords: dict = {}
    choice = draw(st.sampled_from(["detector", "features", "both"]))
    if choice in ("detector", "both"):
        cells = detector_schema(draw(detector_specs()))
        parts += cells.variables
        coords |= cells.coords
    if choice in ("features", "both"):
        taken = {v.name for v in parts} | set(coords)
        features = draw(feature_schema_specs())
        parts += [v for v in feature_variables(features) if v.name not in taken and v.dims[:1] != ("layer",)]
    if not parts:
        parts = [VariableSchema("x", (), (), "float32", "dimensionless")]
    return StoreSchema(tuple(parts), coords)


@st.composite
def events(draw, schema: StoreSchema, *, n_events: int | st.SearchStrategy[int] = st.integers(0, 20)) -> dict[str, np.ndarray]:
    """A batch of events that fits ``schema``: finite, non-negative values (cells hold energies)."""
    n = draw(n_events) if isinstance(n_events, st.SearchStrategy) else n_events
    batch = {}
    for var in schema.variables:
        dtype = np.dtype(var.dtype)
        if dtype.kind == "f":
            elements = st.floats(0, 1e4, allow_nan=False, width=dtype.itemsize * 8)
        else:
            elements = st.integers(0, 1000)
        batch[var.name] = draw(hnp.arrays(dtype, (n, *var.shape), elements=elements))
    return batch


_store_counter = iter(range(10**12))


@st.composite
def stores(draw, *, schema: StoreSchema | None = None, max_batches: int = 3) -> tuple[str, StoreSchema, dict[str, np.ndarray]]:
    """A fresh in-memory store (``memory://`` URL) filled with random events.

    Returns ``(url, schema, events)`` where ``events`` holds every appended event, in order.
    """
    schema = schema or draw(store_schemas())
    url = f"memory://physgen-strategies/{next(_store_counter)}.zarr"
    writer = create_store(url, schema, chunk_events=draw(st.integers(1, 16)),
                          provenance={"specs": {}, "producer": {"kind": "hypothesis", "name": "stores"}})
    batches = draw(st.lists(events(schema), min_size=1, max_size=max_batches))
    for batch in batches:
        writer.append(batch)
    return url, schema, {v.name: np.concatenate([b[v.name] for b in batches]) for v in schema.variables}
