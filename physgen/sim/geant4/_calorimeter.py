"""Geant4 volumes of a :class:`~._layout.Layout`, with the cells read out by Geant4's own scorers.

Consecutive read-out slabs of one readout layer form a *block*. A block's readout window (the
cell grid's extent) is cut into ``ny`` rows (``G4PVReplica`` along y) of ``nx`` cells
(``G4PVReplica`` along x), and every cell holds the block's plates, cut to the cell's size; the
plates outside the window are held by up to four *frame* boxes around it. A
``G4MultiFunctionalDetector`` per readout layer, sensitive in the plates inside the cells,
sums every step's deposit in C++ into a ``G4THitsMap`` keyed by ``iy · nx + ix`` (the row and
cell replica numbers, ``G4PSEnergyDeposit3D``); another, sensitive in the frames' plates, keys
deposits by the frame's copy number, the layer index (the overflow). Python reads the hits maps
once per event (:mod:`._run`), never per step. Plates inside cells (rather than cells inside
plates) keep a step's navigation in a leaf box with no replica levels below: measured 1.18× the
CPU time of bare plates for 10 GeV e+ in CaloGAN, against 1.37× for cells inside plates.
Slabs that are not read out are plain plates, as in the bare geometry (``read_out=False``).

Volumes are never deleted: Geant4's stores keep raw pointers, so every Python wrapper made here
is kept alive with its :class:`Calorimeter`, and a process keeps each calorimeter it built
(:func:`calorimeter_for` reuses them).
"""

from __future__ import annotations

from itertools import count, groupby

from physgen.sim.geant4._layout import CellGrid, Layout, Slab
from physgen.sim.geant4._offline import load_geant4

__all__ = ["Calorimeter", "WORLD_MARGIN_MM", "calorimeter_for"]

g4 = load_geant4()

WORLD_MARGIN_MM = 1000.0
"""Vacuum around the plates on every side: room for the gun in front and for tracks that leave."""

_TOLERANCE_MM = 1e-6
_serial = count()  # sensitive-detector names must be unique for the process's lifetime


_BUILT: dict[tuple, Calorimeter] = {}


def calorimeter_for(layout: Layout, materials: dict, *, read_out: bool = True) -> Calorimeter:
    """The process's calorimeter of this layout and these Geant4 materials, built on first use."""
    key = (layout, tuple((name, id(material)) for name, material in sorted(materials.items())), read_out)
    if key not in _BUILT:
        _BUILT[key] = Calorimeter(layout, materials, read_out=read_out)
    return _BUILT[key]


class Calorimeter:
    """The placed volumes of one layout; with ``read_out=False`` plain plates (the bare-Geant4 reference)."""

    def __init__(self, layout: Layout, materials: dict, *, read_out: bool = True):
        self.layout = layout
        self.materials = materials
        self.tag = f"physgen{next(_serial)}"
        self._keep: list[object] = []
        self.cell_collections: list[str] = []
        self.overflow_collection: str | None = None
        self.has_overflow = False
        if read_out:
            self._cell_detectors = [self._detector(f"{self.tag}_{grid.name}", g4.G4PSEnergyDeposit3D(
                "cells", 1, grid.ny, grid.nx, 3, 2, 1)) for grid in layout.grids]  # depths: plate 0, cell, row, window
            self.cell_collections = [f"{d.GetName()}/cells" for d in self._cell_detectors]
            self._overflow_detector = self._detector(f"{self.tag}_overflow", g4.G4PSEnergyDeposit("overflow", 1))
            self.overflow_collection = f"{self._overflow_detector.GetName()}/overflow"
        vacuum = g4.G4NistManager.Instance().FindOrBuildMaterial("G4_Galactic")
        world = self._box("world", layout.size_x / 2 + WORLD_MARGIN_MM, layout.size_y / 2 + WORLD_MARGIN_MM,
                          layout.depth + WORLD_MARGIN_MM, vacuum)
        self.world = self._hold(g4.G4PVPlacement(None, g4.G4ThreeVector(), world, "world", None, False, 0))
        plates: dict[tuple, object] = {}
        for layer, run in groupby(layout.slabs, key=lambda s: s.layer if read_out else None):
            run = list(run)
            if layer is None:
                for slab in run:
                    self._place(self._plate(plates, slab, layout.size_x, layout.size_y), world, slab.z0, slab.z1)
            else:
                self._block(layer, run, world, vacuum, plates)

    def activate(self, active: bool) -> None:
        """Switch this calorimeter's scorers on or off (off while the process simulates another geometry)."""
        manager = g4.G4SDManager.GetSDMpointer()
        for collection in [*self.cell_collections, self.overflow_collection]:
            if collection:
                manager.Activate(collection.split("/")[0], active)

    # ------------------------------------------------------------ construction
    def _hold(self, thing):
        self._keep.append(thing)
        return thing

    def _box(self, name: str, half_x: float, half_y: float, half_z: float, material):
        solid = self._hold(g4.G4Box(name, half_x, half_y, half_z))
        return self._hold(g4.G4LogicalVolume(solid, material, name))

    def _detector(self, name: str, scorer):
        detector = self._hold(g4.G4MultiFunctionalDetector(name))
        g4.G4SDManager.GetSDMpointer().AddNewDetector(detector)
        detector.RegisterPrimitive(self._hold(scorer))
        return detector

    def _place(self, logical, mother, z0: float, z1: float, x: float = 0.0, y: float = 0.0, copy: int = 0) -> None:
        self._hold(g4.G4PVPlacement(None, g4.G4ThreeVector(x, y, (z0 + z1) / 2), logical, logical.GetName(),
                                    mother, False, copy))

    def _plate(self, plates: dict, slab: Slab, width_x: float, width_y: float, detector=None):
        """A plate's logical volume, shared by plates of equal material, size and sensitive detector."""
        key = (slab.material, round(slab.thickness, 9), round(width_x, 9), round(width_y, 9), id(detector))
        if key not in plates:
            plates[key] = self._box("plate", width_x / 2, width_y / 2, slab.thickness / 2, self.materials[slab.material])
            if detector is not None:
                plates[key].SetSensitiveDetector(detector)
        return plates[key]

    def _block(self, layer: int, slabs: list[Slab], world, vacuum, plates: dict) -> None:
        """Read-out slabs ``slabs`` of ``layer``: plates inside the window's cells, plates in the frame around it."""
        grid: CellGrid = self.layout.grids[layer]
        z0, z1 = slabs[0].z0, slabs[-1].z1
        half_z = (z1 - z0) / 2
        wx, wy = grid.nx * grid.sx, grid.ny * grid.sy
        window = self._box("window", wx / 2, wy / 2, half_z, vacuum)
        row = self._box("row", wx / 2, grid.sy / 2, half_z, vacuum)
        cell = self._box("cell", grid.sx / 2, grid.sy / 2, half_z, vacuum)
        self._hold(g4.G4PVReplica("rows", row, window, g4.EAxis.kYAxis, grid.ny, grid.sy))
        self._hold(g4.G4PVReplica("cells", cell, row, g4.EAxis.kXAxis, grid.nx, grid.sx))
        for slab in slabs:
            plate = self._plate(plates, slab, grid.sx, grid.sy, self._cell_detectors[layer])
            self._place(plate, cell, slab.z0 - z0 - half_z, slab.z1 - z0 - half_z)
        self._place(window, world, z0, z1)
        size_x, size_y = self.layout.size_x, self.layout.size_y
        side, band = (size_x - wx) / 2, (size_y - wy) / 2
        frames = []  # (width x, width y, centre x, centre y) of the frame boxes around the window
        if side > _TOLERANCE_MM:
            frames += [(side, size_y, -(wx + side) / 2, 0.0), (side, size_y, (wx + side) / 2, 0.0)]
        if band > _TOLERANCE_MM:
            frames += [(wx, band, 0.0, -(wy + band) / 2), (wx, band, 0.0, (wy + band) / 2)]
        for width_x, width_y, x, y in frames:
            frame = self._box("frame", width_x / 2, width_y / 2, half_z, vacuum)
            for slab in slabs:
                plate = self._plate(plates, slab, width_x, width_y, self._overflow_detector)
                self._place(plate, frame, slab.z0 - z0 - half_z, slab.z1 - z0 - half_z)
            self._place(frame, world, z0, z1, x, y, copy=layer)
            self.has_overflow = True
