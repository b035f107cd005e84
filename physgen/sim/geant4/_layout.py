"""A layered or voxel detector spec as the plates Geant4 places and the cells it reads out.

The sampling stack starts at z = 0 (the calorimeter front) and runs along +z. Every plate of
every section becomes one or more *slabs*: a plate is cut where a readout layer begins or ends
(CaloGAN's layer 2 starts at 437 mm, inside a LAr gap), so each slab lies in at most one
readout layer. A slab is read out when it lies in a readout layer and the detector reads the
total deposit, or the slab is active material. Read-out slabs carry the layer's cell grid,
centred on the beam axis like :mod:`physgen.geometry`'s coordinates; what is deposited in such a
slab outside its grid is that layer's overflow. Everything is checked here, before Geant4 sees
it: an impossible geometry is one :class:`~physgen.errors.SpecError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physgen.errors import SpecError
from physgen.geometry import layer_boundaries
from physgen.specs import LayeredCalorimeter, VoxelCalorimeter
from physgen.units import to_magnitude

__all__ = ["CellGrid", "Layout", "Slab"]

_TOLERANCE_MM = 1e-6
"""Cuts closer than this to a plate face are taken to be on it (no sliver slabs)."""


@dataclass(frozen=True)
class CellGrid:
    """The cells of one readout layer: ``ny`` × ``nx`` cells of ``sy`` × ``sx`` mm between depths ``z0`` and ``z1``."""

    name: str
    z0: float
    z1: float
    ny: int
    nx: int
    sy: float
    sx: float

    @property
    def n_cells(self) -> int:
        return self.ny * self.nx


@dataclass(frozen=True)
class Slab:
    """A plate, or the part of one inside a readout layer: ``material`` (spec name) from ``z0`` to ``z1`` mm."""

    material: str
    z0: float
    z1: float
    layer: int | None
    """index of the readout layer whose cells record this slab's deposit; ``None``: not read out"""

    @property
    def thickness(self) -> float:
        return self.z1 - self.z0


@dataclass(frozen=True)
class Layout:
    """Slabs front to back, the readout grids, and the transverse size of the plates (mm)."""

    slabs: tuple[Slab, ...]
    grids: tuple[CellGrid, ...]
    size_y: float
    size_x: float

    @property
    def depth(self) -> float:
        return self.slabs[-1].z1

    @property
    def n_cells(self) -> int:
        return sum(g.n_cells for g in self.grids)

    @property
    def cell_offsets(self) -> np.ndarray:
        """Index of each layer's first cell in the flat cell vector of an event."""
        return np.concatenate([[0], np.cumsum([g.n_cells for g in self.grids])[:-1]]).astype(np.int64)

    @classmethod
    def from_geometry(cls, geometry: LayeredCalorimeter | VoxelCalorimeter, source: str) -> Layout:
        """Cut the spec's plates at the readout boundaries; ``source`` names the spec in errors."""
        plates = _plates(geometry, source)
        grids = _grids(geometry)
        depth = plates[-1][3]
        _check_layers(grids, depth, source)
        slabs = []
        for material, role, z0, z1 in plates:
            cuts = sorted({z0, z1, *(z for g in grids for z in (g.z0, g.z1)
                                     if z0 + _TOLERANCE_MM < z < z1 - _TOLERANCE_MM)})
            for a, b in zip(cuts[:-1], cuts[1:]):
                layer = next((i for i, g in enumerate(grids) if g.z0 - _TOLERANCE_MM <= a and b <= g.z1 + _TOLERANCE_MM),
                             None)
                read = layer is not None and (geometry.readout == "total" or role == "active")
                slabs.append(Slab(material, a, b, layer if read else None))
        size_y, size_x = _transverse_size(geometry, grids, source)
        empty = sorted(set(range(len(grids))) - {s.layer for s in slabs})
        if empty:
            names = [grids[i].name for i in empty]
            msg = (f"{source}: readout layers {names} contain no {'active ' if geometry.readout == 'active' else ''}"
                   f"material, so their cells could never record energy")
            raise SpecError(msg)
        return cls(tuple(slabs), tuple(grids), size_y, size_x)


def _plates(geometry: LayeredCalorimeter | VoxelCalorimeter, source: str) -> list[tuple[str, str, float, float]]:
    """(material, role, z0, z1) of every absorber and active plate, front to back."""
    plates, z = [], 0.0
    for i, section in enumerate(geometry.sections):
        for role in ("absorber", "active"):
            if to_magnitude(getattr(section, f"{role}_thickness"), "mm") <= 0:
                msg = f"{source}: geometry.sections.{i}.{role}_thickness must be positive (an empty plate)"
                raise SpecError(msg)
        for _ in range(section.periods):
            for role in ("absorber", "active"):
                thickness = to_magnitude(getattr(section, f"{role}_thickness"), "mm")
                plates.append((getattr(section, role), role, z, z + thickness))
                z += thickness
    return plates


def _grids(geometry: LayeredCalorimeter | VoxelCalorimeter) -> list[CellGrid]:
    if isinstance(geometry, LayeredCalorimeter):
        return [CellGrid(layer.name, to_magnitude(layer.depth, "mm"),
                         to_magnitude(layer.depth, "mm") + to_magnitude(layer.thickness, "mm"),
                         *layer.cells, *(to_magnitude(s, "mm") for s in layer.cell_size)) for layer in geometry.layers]
    edges = layer_boundaries(geometry)
    ny, nx = geometry.cells[1:]
    sy, sx = (to_magnitude(s, "mm") for s in geometry.cell_size)
    return [CellGrid(f"z{i}", float(a), float(b), ny, nx, sy, sx) for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]


def _check_layers(grids: list[CellGrid], depth: float, source: str) -> None:
    for g in grids:
        if g.z1 - g.z0 <= 0 or g.sy <= 0 or g.sx <= 0:
            msg = f"{source}: readout layer {g.name!r} is empty (thickness {g.z1 - g.z0:g} mm, cells {g.sy:g} x {g.sx:g} mm)"
            raise SpecError(msg)
        if g.z0 < -_TOLERANCE_MM or g.z1 > depth + _TOLERANCE_MM:
            msg = (f"{source}: readout layer {g.name!r} spans {g.z0:g}-{g.z1:g} mm but the sampling stack is "
                   f"0-{depth:g} mm deep")
            raise SpecError(msg)
    ordered = sorted(grids, key=lambda g: g.z0)
    for front, back in zip(ordered[:-1], ordered[1:]):
        if back.z0 < front.z1 - _TOLERANCE_MM:
            msg = (f"{source}: readout layers {front.name!r} ({front.z0:g}-{front.z1:g} mm) and {back.name!r} "
                   f"({back.z0:g}-{back.z1:g} mm) overlap")
            raise SpecError(msg)


def _transverse_size(geometry, grids: list[CellGrid], source: str) -> tuple[float, float]:
    widest = (max(g.ny * g.sy for g in grids), max(g.nx * g.sx for g in grids))
    if geometry.transverse_size is None:
        return widest
    size = tuple(to_magnitude(s, "mm") for s in geometry.transverse_size)
    if min(size) <= 0:
        msg = f"{source}: geometry.transverse_size must be positive, got {size[0]:g} x {size[1]:g} mm"
        raise SpecError(msg)
    for g in grids:
        if g.ny * g.sy > size[0] + _TOLERANCE_MM or g.nx * g.sx > size[1] + _TOLERANCE_MM:
            msg = (f"{source}: the cells of readout layer {g.name!r} ({g.ny * g.sy:g} x {g.nx * g.sx:g} mm) stick out "
                   f"of the plates (transverse_size {size[0]:g} x {size[1]:g} mm)")
            raise SpecError(msg)
    return size
