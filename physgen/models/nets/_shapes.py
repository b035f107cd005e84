"""Network sizes from a detector spec: nets are built for the grid the store holds."""

from __future__ import annotations

from physgen.errors import SpecError
from physgen.geometry import detector_schema
from physgen.specs import DetectorSpec, EtaPhiGrid, LayeredCalorimeter, VoxelCalorimeter

__all__ = ["cell_threshold", "image_shape", "layer_shapes", "voxel_shape"]


def _require(detector: DetectorSpec, kind: type, model: str) -> None:
    if not isinstance(detector.geometry, kind):
        msg = (f"{model} needs a detector with geometry {kind.__name__}, but detector {detector.name!r} "
               f"has {type(detector.geometry).__name__}")
        raise SpecError(msg)


def image_shape(detector: DetectorSpec) -> tuple[int, int]:
    """``(n_eta, n_phi)`` of a jet-image detector (LAGAN)."""
    _require(detector, EtaPhiGrid, "an image GAN")
    (var,) = detector_schema(detector).variables
    return var.shape


def layer_shapes(detector: DetectorSpec) -> list[tuple[int, int]]:
    """``(rows, cols)`` of each readout layer of a layered calorimeter, front to back (CaloGAN)."""
    _require(detector, LayeredCalorimeter, "CaloGAN")
    schema = detector_schema(detector)
    return [schema[layer.name].shape for layer in detector.geometry.layers]


def voxel_shape(detector: DetectorSpec) -> tuple[int, int, int]:
    """``(layers, rows, cols)`` of a voxel calorimeter (ILD)."""
    _require(detector, VoxelCalorimeter, "a 3D shower GAN")
    (var,) = detector_schema(detector).variables
    return var.shape


def cell_threshold(detector: DetectorSpec) -> float:
    """The readout threshold of a voxel calorimeter in its energy units (0 if none)."""
    _require(detector, VoxelCalorimeter, "a 3D shower GAN")
    return detector.geometry.threshold_magnitude()
