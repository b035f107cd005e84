"""Jet-image observables (paper 000, docs/PHYSICS.md §1).

Every pixel is a massless pseudo-particle at its pixel centre (ηᵢ, φᵢ) with transverse
momentum equal to its intensity: Eᵢ = pTᵢ cosh ηᵢ, p⃗ᵢ = pTᵢ (cos φᵢ, sin φᵢ, sinh ηᵢ).
The jet is the sum of the pixels. N-subjettiness uses β = 1, R0 = 1.0 and winner-take-all
kT axes found by FastJet from the pixels.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from physgen.observables._kinds import is_jet_image, jet_image
from physgen.observables._registry import observable
from physgen.schema import EVENT

__all__ = ["jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21", "n_active_pixels", "pixel_intensity",
           "average_image", "nsubjettiness", "R0"]

R0 = 1.0
"""Characteristic radius of N-subjettiness (the anti-kT jet radius of paper 000)."""

PIXEL_DIMS = ("eta", "phi")


def _four_momentum(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    image = jet_image(ds).astype("float64")
    eta, phi = ds["eta"].astype("float64"), ds["phi"].astype("float64")
    parts = {"E": image * np.cosh(eta), "px": image * np.cos(phi), "py": image * np.sin(phi),
             "pz": image * np.sinh(eta)}
    return {k: v.sum(PIXEL_DIMS) for k, v in parts.items()}


@observable("jet_pt", units=None, long_name="jet transverse momentum from the image", requires=is_jet_image)
def jet_pt(ds: xr.Dataset) -> xr.DataArray:
    """pT = |Σᵢ pTᵢ (cos φᵢ, sin φᵢ)| over the pixels."""
    p = _four_momentum(ds)
    return np.hypot(p["px"], p["py"]).assign_attrs(units=jet_image(ds).attrs.get("units", "GeV"))


@observable("jet_mass", units=None, long_name="jet invariant mass from the image (massless pixels)",
            requires=is_jet_image)
def jet_mass(ds: xr.Dataset) -> xr.DataArray:
    """m = √((ΣE)² − |Σp⃗|²), clipped at 0 against rounding (a single pixel has m = 0)."""
    p = _four_momentum(ds)
    m2 = p["E"] ** 2 - p["px"] ** 2 - p["py"] ** 2 - p["pz"] ** 2
    return np.sqrt(m2.clip(min=0.0)).assign_attrs(units=jet_image(ds).attrs.get("units", "GeV"))


def _wta_kt_axes(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, n_axes: int) -> np.ndarray:
    """(η, φ) of the ``n_axes`` exclusive kT jets with WTA recombination, per event (FastJet).

    ``pt``: (n_events, n_pixels) with every event holding at least ``n_axes`` active pixels.
    The jet definition uses R = 1000 so that beam distances never win, as fastjet-contrib's
    Nsubjettiness does for its exclusive axes.
    """
    import awkward as ak

    from physgen.sim._pythia import fastjet_module  # FastJet with its banner already swallowed

    fastjet = fastjet_module()
    active = pt > 0
    counts = active.sum(axis=1)
    sel_pt, sel_eta, sel_phi = pt[active], np.broadcast_to(eta, pt.shape)[active], np.broadcast_to(phi, pt.shape)[active]
    particles = ak.zip({"px": ak.unflatten(sel_pt * np.cos(sel_phi), counts),
                        "py": ak.unflatten(sel_pt * np.sin(sel_phi), counts),
                        "pz": ak.unflatten(sel_pt * np.sinh(sel_eta), counts),
                        "E": ak.unflatten(sel_pt * np.cosh(sel_eta), counts)})
    definition = fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0, fastjet.WTA_pt_scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fastjet's wrapper warns for every exclusive_jets call
        axes = fastjet.ClusterSequence(particles, definition).exclusive_jets(n_jets=n_axes)
    px, py, pz = (ak.to_numpy(axes[c]).reshape(len(pt), n_axes) for c in ("px", "py", "pz"))
    return np.stack([np.arcsinh(pz / np.hypot(px, py)), np.arctan2(py, px)], axis=-1)


def _tau_kernel(image: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """τ1 and τ2 of a block of images (..., n_eta, n_phi) → (..., 2)."""
    shape = image.shape[:-2]
    pt = image.reshape(-1, eta.size * phi.size).astype(np.float64)
    pix_eta = np.repeat(eta, phi.size)
    pix_phi = np.tile(phi, eta.size)
    counts = (pt > 0).sum(axis=1)
    total = pt.sum(axis=1)
    taus = np.zeros((len(pt), 2))
    for k, n_axes in enumerate((1, 2)):
        sel = counts >= n_axes  # fewer pixels than axes: every pixel is an axis, τ_N = 0
        if not sel.any():
            continue
        axes = _wta_kt_axes(pt[sel], pix_eta, pix_phi, n_axes)  # (n, N, 2)
        d_eta = pix_eta[None, None, :] - axes[:, :, 0:1]
        d_phi = (pix_phi[None, None, :] - axes[:, :, 1:2] + np.pi) % (2 * np.pi) - np.pi
        distance = np.sqrt(d_eta**2 + d_phi**2).min(axis=1)  # (n, pixels)
        taus[sel, k] = (pt[sel] * distance).sum(axis=1) / (total[sel] * R0)
    return taus.reshape(*shape, 2)


def nsubjettiness(ds: xr.Dataset) -> xr.DataArray:
    """τ_N = Σ_k pT,k min_j ΔR_jk / (Σ_k pT,k R0) for N = 1, 2 (dim ``n_axes``), one-pass WTA kT axes.

    The axes are FastJet's exclusive kT jets with winner-take-all pT recombination; for
    β = 1 they already sit close to the τ_N minimum, so no further minimisation is applied.
    """
    image = jet_image(ds)
    taus = xr.apply_ufunc(
        _tau_kernel, image, ds["eta"].astype("float64"), ds["phi"].astype("float64"),
        input_core_dims=[list(PIXEL_DIMS), ["eta"], ["phi"]], output_core_dims=[["n_axes"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"n_axes": 2}, "allow_rechunk": True},
    )
    return taus.assign_coords(n_axes=[1, 2])


@observable("tau_1", units="dimensionless", long_name="1-subjettiness (β = 1, WTA kT axis)", requires=is_jet_image)
def tau_1(ds: xr.Dataset) -> xr.DataArray:
    return nsubjettiness(ds).sel(n_axes=1, drop=True)


@observable("tau_2", units="dimensionless", long_name="2-subjettiness (β = 1, WTA kT axes)", requires=is_jet_image)
def tau_2(ds: xr.Dataset) -> xr.DataArray:
    return nsubjettiness(ds).sel(n_axes=2, drop=True)


@observable("tau_21", units="dimensionless", long_name="τ21 = τ2/τ1 (0 when τ1 = 0)", requires=is_jet_image)
def tau_21(ds: xr.Dataset) -> xr.DataArray:
    """In [0, 1]: WTA axes are nested (the τ1 axis is one of the τ2 axes), so τ2 ≤ τ1."""
    taus = nsubjettiness(ds)
    t1, t2 = taus.sel(n_axes=1, drop=True), taus.sel(n_axes=2, drop=True)
    return xr.where(t1 > 0, t2 / t1.where(t1 > 0, 1.0), 0.0)


@observable("n_active_pixels", units="dimensionless", long_name="number of pixels with pT > 0",
            requires=is_jet_image)
def n_active_pixels(ds: xr.Dataset) -> xr.DataArray:
    return (jet_image(ds) > 0).sum(PIXEL_DIMS).astype("int32")


@observable("pixel_intensity", units=None, long_name="pixel intensities (the spectrum: histogram the non-zero ones)",
            requires=is_jet_image)
def pixel_intensity(ds: xr.Dataset) -> xr.DataArray:
    """All pixels of each image along one ``pixel`` dim; their histogram is the pixel-intensity spectrum."""
    return jet_image(ds).stack(pixel=PIXEL_DIMS).drop_vars(["pixel", "eta", "phi"])


@observable("average_image", units=None, long_name="average jet image", requires=is_jet_image, per_event=False)
def average_image(ds: xr.Dataset) -> xr.DataArray:
    image = jet_image(ds)
    return image.astype("float64").mean(EVENT).assign_attrs(units=image.attrs.get("units", "GeV"))
