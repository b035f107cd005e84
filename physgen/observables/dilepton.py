"""Z → μμ observables from the 17 features of paper 002 (docs/PHYSICS.md §7).

The leading muon was rotated in φ so that its p_y = 0: its four-momentum is
(E1, px1, 0, pz1) and its azimuth is 0 or π. Muons are taken with their stored energies.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from physgen.observables._registry import observable

__all__ = ["m_ll", "pt_ll", "met", "phi_miss", "dphi_mumu", "n_jets", "JET_PT_MIN", "wrap_angle"]

MUONS = ["mu1_px", "mu1_pz", "mu1_e", "mu2_px", "mu2_py", "mu2_pz", "mu2_e"]
JETS = [f"jet{i}_pt" for i in range(1, 6)]
JET_PT_MIN = 15.0
"""GeV: jets counted by ``n_jets`` (paper 002)."""


def wrap_angle(angle: xr.DataArray) -> xr.DataArray:
    """Map to [−π, π)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _f64(ds: xr.Dataset, name: str) -> xr.DataArray:
    return ds[name].astype("float64")


def _dimuon(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    return {"E": _f64(ds, "mu1_e") + _f64(ds, "mu2_e"), "px": _f64(ds, "mu1_px") + _f64(ds, "mu2_px"),
            "py": _f64(ds, "mu2_py"), "pz": _f64(ds, "mu1_pz") + _f64(ds, "mu2_pz")}


@observable("m_ll", units="GeV", long_name="dimuon invariant mass M_ll", requires=MUONS)
def m_ll(ds: xr.Dataset) -> xr.DataArray:
    p = _dimuon(ds)
    return np.sqrt((p["E"] ** 2 - p["px"] ** 2 - p["py"] ** 2 - p["pz"] ** 2).clip(min=0.0))


@observable("pt_ll", units="GeV", long_name="dimuon transverse momentum", requires=MUONS)
def pt_ll(ds: xr.Dataset) -> xr.DataArray:
    p = _dimuon(ds)
    return np.hypot(p["px"], p["py"])


@observable("met", units="GeV", long_name="missing transverse momentum |p⃗T,miss|", requires=["met_px", "met_py"])
def met(ds: xr.Dataset) -> xr.DataArray:
    return np.hypot(_f64(ds, "met_px"), _f64(ds, "met_py"))


@observable("phi_miss", units="rad", long_name="azimuth of the missing transverse momentum φ_miss",
            requires=["met_px", "met_py"])
def phi_miss(ds: xr.Dataset) -> xr.DataArray:
    return np.arctan2(_f64(ds, "met_py"), _f64(ds, "met_px"))


@observable("dphi_mumu", units="rad", long_name="Δφ(μ1, μ2) in [−π, π)", requires=MUONS)
def dphi_mumu(ds: xr.Dataset) -> xr.DataArray:
    phi1 = np.arctan2(xr.zeros_like(_f64(ds, "mu1_px")), _f64(ds, "mu1_px"))
    phi2 = np.arctan2(_f64(ds, "mu2_py"), _f64(ds, "mu2_px"))
    return wrap_angle(phi2 - phi1)


@observable("n_jets", units="dimensionless", long_name=f"number of jets with pT > {JET_PT_MIN:g} GeV", requires=JETS)
def n_jets(ds: xr.Dataset) -> xr.DataArray:
    return sum((ds[name] > JET_PT_MIN).astype("int32") for name in JETS)
