"""The sampling stack of a calorimeter spec as the shower model sees it.

Every sampling section becomes an effective medium (GFlash mixture rules, docs/PHYSICS.md §4,
:func:`physgen.geometry.sampling_medium`). Depth along the shower axis is measured in
radiation lengths (EM showers) or interaction lengths (hadrons); :class:`Stack` converts
those to millimetres along a straight track of polar angle θ through the sections, so one
shower model serves every layered or voxel detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physgen.geometry import SamplingMedium, sampling_medium
from physgen.specs import LayeredCalorimeter, Material, VoxelCalorimeter
from physgen.units import to_magnitude

__all__ = ["Stack", "mip_dedx", "landau_xi"]

_FAR = 1e7
"""mm: depth of the far end of the depth maps (the last section is extended beyond the back)."""


def mip_dedx(material: Material) -> float:
    """Minimum-ionising energy loss in MeV/mm.

    ⟨dE/dx⟩_min ≈ ρ (Z/A) (4.09 − 0.284 ln Z) MeV cm²/g, a two-parameter fit to the PDG
    values of Si, LAr, W and Pb (within 3 %).
    """
    rho = to_magnitude(material.density, "g/cm^3")
    return rho * material.Z / material.A * (4.09 - 0.284 * np.log(material.Z)) / 10.0


def landau_xi(material: Material) -> float:
    """ξ = (K/2) (Z/A) ρ (MeV/mm) of a singly charged particle at β = 1: the scale of the δ-ray spectrum
    dN/dT = ξ x / T² per path x (PDG RPP 2024, §34.2.3 and Eq. 34.11; K = 4π N_A r_e² m_e c² = 0.307075 MeV cm²/mol)."""
    rho = to_magnitude(material.density, "g/cm^3")
    return 0.5 * 0.307075 * rho * material.Z / material.A / 10.0


@dataclass(frozen=True)
class Stack:
    """Sections of a sampling calorimeter with their effective media and depth maps (all in mm)."""

    boundaries: np.ndarray  # (n_sections + 1,) front of each section and the back of the last
    media: tuple[SamplingMedium, ...]
    mip_loss: np.ndarray  # (n_sections,) MIP energy loss per mm of the mixture (MeV/mm)
    active_readout: bool = False  # cells record the active layers' signal (not the total deposit)
    xi: np.ndarray | None = None  # (n_sections,) ξ of the mixture per mm (MeV/mm, :func:`landau_xi`)

    @classmethod
    def from_geometry(cls, g: LayeredCalorimeter | VoxelCalorimeter) -> Stack:
        media, bounds, loss, xi = [], [0.0], [], []
        for s in g.sections:
            d_abs, d_act = to_magnitude(s.absorber_thickness, "mm"), to_magnitude(s.active_thickness, "mm")
            absorber, active = g.material(s.absorber), g.material(s.active)
            medium = sampling_medium(absorber, d_abs, active, d_act)
            media.append(medium)
            bounds.append(bounds[-1] + s.periods * medium.period)
            loss.append((d_abs * mip_dedx(absorber) + d_act * mip_dedx(active)) / medium.period)
            xi.append((d_abs * landau_xi(absorber) + d_act * landau_xi(active)) / medium.period)
        return cls(np.array(bounds), tuple(media), np.array(loss), g.readout == "active", np.array(xi))

    @property
    def depth(self) -> float:
        """Total depth of the stack (mm)."""
        return float(self.boundaries[-1])

    @property
    def period(self) -> np.ndarray:
        """Thickness (mm) of one absorber + active period, per section."""
        return self._column("period")

    @property
    def sampling_fraction(self) -> np.ndarray:
        """MIP sampling fraction of the active medium, per section."""
        return self._column("sampling_fraction")

    @property
    def front(self) -> SamplingMedium:
        """The medium of the first section: it sets the EM shower parameters."""
        return self.media[0]

    def _column(self, name: str) -> np.ndarray:
        return np.array([getattr(m, name) for m in self.media])

    def section(self, z: np.ndarray) -> np.ndarray:
        """Index of the section holding depth ``z`` (mm); outside the stack the nearest one."""
        if len(self.media) == 1:
            return np.zeros(np.shape(z), dtype=np.intp)
        return np.clip(np.searchsorted(self.boundaries, z, side="right") - 1, 0, len(self.media) - 1)

    def property_at(self, name: str, z: np.ndarray) -> np.ndarray | float:
        """A :class:`SamplingMedium` field (e.g. ``"moliere_radius"``) at depth ``z`` (mm)."""
        if len(self.media) == 1:
            return getattr(self.front, name)
        return self._column(name)[self.section(z)]

    def mip_loss_at(self, z: np.ndarray) -> np.ndarray | float:
        """Mean MIP energy loss (MeV/mm) of the mixture at depth ``z`` (mm)."""
        if len(self.media) == 1:
            return float(self.mip_loss[0])
        return self.mip_loss[self.section(z)]

    def xi_at(self, z: np.ndarray) -> np.ndarray | float:
        """ξ (MeV/mm) of the mixture at depth ``z`` (mm): the δ-ray spectrum's scale, :func:`landau_xi`."""
        return self.xi[self.section(z)] if len(self.media) > 1 else float(self.xi[0])

    def depth_map(self, length: str) -> tuple[np.ndarray, np.ndarray]:
        """Depths z (mm, the section boundaries and a far end) and the units of ``length`` (``"X0"`` or
        ``"lambda_int"``) traversed from the front to each, at normal incidence: the piecewise-linear map
        that :meth:`to_mm` and :meth:`from_mm` interpolate."""
        z = np.append(self.boundaries, _FAR)
        per_mm = 1.0 / np.append(self._column(length), self._column(length)[-1])
        return z, np.concatenate([[0.0], np.cumsum(np.diff(z) * per_mm)])

    def to_mm(self, depth: np.ndarray, cos_theta: np.ndarray, length: str = "X0") -> np.ndarray:
        """Path length (mm) along a track of polar angle θ that traverses ``depth`` units of ``length``.

        ``length`` is ``"X0"`` or ``"lambda_int"``. A track at angle θ crosses
        dz / (L(z) cos θ) units in a slab dz, hence the inversion at ``depth · cos θ``.
        """
        if len(self.media) == 1:  # one medium: a straight line, whatever the angle
            return depth * getattr(self.front, length)
        z, units = self.depth_map(length)
        return np.interp(depth * cos_theta, units, z) / cos_theta

    def from_mm(self, path: np.ndarray, cos_theta: np.ndarray, length: str = "X0") -> np.ndarray:
        """Inverse of :meth:`to_mm`: units of ``length`` traversed along ``path`` mm."""
        if len(self.media) == 1:
            return path / getattr(self.front, length)
        z, units = self.depth_map(length)
        return np.interp(path * cos_theta, z, units) / cos_theta
