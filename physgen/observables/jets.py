"""Jet-image observables (paper 000, docs/PHYSICS.md §1).

Every pixel is a massless pseudo-particle at its pixel centre (ηᵢ, φᵢ) with transverse
momentum equal to its intensity: Eᵢ = pTᵢ cosh ηᵢ, p⃗ᵢ = pTᵢ (cos φᵢ, sin φᵢ, sinh ηᵢ).
The jet is the sum of the pixels. N-subjettiness uses β = 1, R0 = 1.0 and winner-take-all
kT axes found by FastJet from the pixels, with exact ties on the grid broken by a fixed rule
(``tau_1``, ``tau_2``, ``tau_21``), or those axes after fastjet-contrib's one-pass minimisation
(``tau_*_onepass``, the axes of the LAGAN paper's jet-image code).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import xarray as xr

from physgen.observables._kinds import is_jet_image, jet_image
from physgen.observables._registry import observable
from physgen.schema import EVENT

__all__ = ["jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21", "tau_1_onepass", "tau_2_onepass", "tau_21_onepass",
           "n_active_pixels", "pixel_intensity", "average_image", "nsubjettiness", "one_pass_axes", "wta_kt_axes",
           "R0", "TIE_BREAK", "ONE_PASS_ACCURACY"]

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


TIE_BREAK = 1e-4
"""Relative size of the fixed offsets that order exact ties on a pixel grid (see :func:`wta_kt_axes`)."""


@functools.cache
def _tie_offsets(n_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed pseudo-random offsets in [0, 1) per pixel (seeded: the same grid always gets the same)."""
    offsets = np.random.default_rng(20_240_615).random((2, n_pixels))
    return offsets[0], offsets[1]


def wta_kt_axes(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, n_axes: int) -> np.ndarray:
    """(η, φ) of the ``n_axes`` exclusive kT jets with winner-take-all pT recombination (FastJet), per event,
    each axis on the centre of the pixel that won it.

    ``pt``: (n_events, n_pixels), every event with at least ``n_axes`` active pixels. R = 1000 so that
    beam distances never win, as fastjet-contrib's ``WTA_KT_Axes`` does.

    Pixel grids are full of exact ties (a soft pixel equidistant from four harder neighbours; equal
    intensities), which FastJet would break by rounding noise in its rapidities, so a 1e-7 change of
    one intensity could move an axis by a pixel. The clustering therefore sees every pixel's pT and
    position moved by fixed offsets of relative size :data:`TIE_BREAK` (the same for every event
    and call): near-ties resolve by pixel, not by noise; the axes snap back to the pixel centres.
    """
    import awkward as ak

    from physgen.sim._pythia import fastjet_module  # FastJet with its banner already swallowed

    fastjet = fastjet_module()
    pitch = min(np.min(np.diff(np.unique(eta)), initial=1.0), np.min(np.diff(np.unique(phi)), initial=1.0))
    u, v = _tie_offsets(pt.shape[1])
    moved_pt = pt * (1 + TIE_BREAK * u)
    moved_eta = eta + TIE_BREAK * pitch * v
    active = pt > 0
    counts = active.sum(axis=1)
    sel_pt = moved_pt[active]
    sel_eta, sel_phi = np.broadcast_to(moved_eta, pt.shape)[active], np.broadcast_to(phi, pt.shape)[active]
    particles = ak.zip({"px": ak.unflatten(sel_pt * np.cos(sel_phi), counts),
                        "py": ak.unflatten(sel_pt * np.sin(sel_phi), counts),
                        "pz": ak.unflatten(sel_pt * np.sinh(sel_eta), counts),
                        "E": ak.unflatten(sel_pt * np.cosh(sel_eta), counts)})
    definition = fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0, fastjet.WTA_pt_scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fastjet's wrapper warns for every exclusive_jets call
        axes = fastjet.ClusterSequence(particles, definition).exclusive_jets(n_jets=n_axes)
    px, py, pz = (ak.to_numpy(axes[c]).reshape(len(pt), n_axes) for c in ("px", "py", "pz"))
    axis_eta, axis_phi = np.arcsinh(pz / np.hypot(px, py)), np.arctan2(py, px)
    # each WTA axis is one (moved) pixel's direction: snap it to that pixel's centre
    d_phi = (axis_phi[..., None] - phi + np.pi) % (2 * np.pi) - np.pi
    winner = np.argmin((axis_eta[..., None] - moved_eta) ** 2 + d_phi**2, axis=-1)
    return np.stack([eta[winner], phi[winner]], axis=-1)


ONE_PASS_ACCURACY = 1e-4
"""Convergence (mean axis shift) and regulator of fastjet-contrib's one-pass minimisation."""


def one_pass_axes(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, axes: np.ndarray,
                  max_iterations: int = 1000) -> np.ndarray:
    """Axes moved to a local minimum of τ_N (β = 1) from ``axes`` (n_events, N, 2), as fastjet-contrib's
    ``OnePass_WTA_KT_Axes`` does (Nsubjettiness 2.x, ``DefaultMeasure::get_one_pass_axes``): assign
    every pixel to its nearest axis, move each axis to Σ w (η, φ) / Σ w with w = pT / √(ε² + ΔR²)
    (one Weiszfeld step towards the pT-weighted geometric median, ε = :data:`ONE_PASS_ACCURACY`), and
    repeat until the axes move by less than ε on average (or ``max_iterations``)."""
    axes = axes.copy()
    todo = np.ones(len(pt), dtype=bool)
    for _ in range(max_iterations):
        if not todo.any():
            break
        a = axes[todo]
        d_eta = eta[None, None, :] - a[:, :, 0:1]
        d_phi = (phi[None, None, :] - a[:, :, 1:2] + np.pi) % (2 * np.pi) - np.pi
        distance2 = d_eta**2 + d_phi**2
        nearest = np.argmin(distance2, axis=1)  # (events, pixels): lowest axis index on a tie
        own = nearest[:, None, :] == np.arange(a.shape[1])[None, :, None]
        weight = np.where(own, pt[todo][:, None, :] / np.sqrt(ONE_PASS_ACCURACY**2 + distance2), 0.0)
        total = weight.sum(axis=-1)
        unwrapped_phi = a[:, :, 1:2] + d_phi  # the pixel's φ on the axis's side of ±π
        moved = np.stack([(weight * (a[:, :, 0:1] + d_eta)).sum(-1), (weight * unwrapped_phi).sum(-1)], axis=-1)
        moved = np.where(total[..., None] > 0, moved / np.where(total > 0, total, 1.0)[..., None], a)
        moved[..., 1] = (moved[..., 1] + np.pi) % (2 * np.pi) - np.pi
        shift = np.hypot(moved[..., 0] - a[..., 0], (moved[..., 1] - a[..., 1] + np.pi) % (2 * np.pi) - np.pi)
        axes[todo] = moved
        still = shift.mean(axis=1) > ONE_PASS_ACCURACY
        todo[np.flatnonzero(todo)[~still]] = False
    return axes


def _tau_kernel(image: np.ndarray, eta: np.ndarray, phi: np.ndarray, one_pass: bool) -> np.ndarray:
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
        axes = wta_kt_axes(pt[sel], pix_eta, pix_phi, n_axes)  # (n, N, 2)
        if one_pass:
            axes = one_pass_axes(pt[sel], pix_eta, pix_phi, axes)
        d_eta = pix_eta[None, None, :] - axes[:, :, 0:1]
        d_phi = (pix_phi[None, None, :] - axes[:, :, 1:2] + np.pi) % (2 * np.pi) - np.pi
        distance = np.sqrt(d_eta**2 + d_phi**2).min(axis=1)  # (n, pixels)
        taus[sel, k] = (pt[sel] * distance).sum(axis=1) / (total[sel] * R0)
    return taus.reshape(*shape, 2)


def nsubjettiness(ds: xr.Dataset, *, one_pass: bool = False) -> xr.DataArray:
    """τ_N = Σ_k pT,k min_j ΔR_jk / (Σ_k pT,k R0) for N = 1, 2 (dim ``n_axes``), β = 1, R0 = 1
    (Thaler and Van Tilburg, arXiv:1011.2268; fastjet-contrib's NormalizedMeasure(1, 1)).

    Axes: the exclusive WTA kT axes (:func:`wta_kt_axes`, ties on the pixel grid broken by a fixed
    rule), and with ``one_pass`` those minimised once more as ``OnePass_WTA_KT_Axes``
    (:func:`one_pass_axes`), the axes of the original LAGAN jet-image code.
    """
    image = jet_image(ds)
    taus = xr.apply_ufunc(
        _tau_kernel, image, ds["eta"].astype("float64"), ds["phi"].astype("float64"), kwargs={"one_pass": one_pass},
        input_core_dims=[list(PIXEL_DIMS), ["eta"], ["phi"]], output_core_dims=[["n_axes"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"n_axes": 2}, "allow_rechunk": True},
    )
    return taus.assign_coords(n_axes=[1, 2])


def _tau_21(taus: xr.DataArray) -> xr.DataArray:
    t1, t2 = taus.sel(n_axes=1, drop=True), taus.sel(n_axes=2, drop=True)
    return xr.where(t1 > 0, t2 / t1.where(t1 > 0, 1.0), 0.0)


@observable("tau_1", units="dimensionless", long_name="1-subjettiness (beta = 1, WTA kT axis)", requires=is_jet_image)
def tau_1(ds: xr.Dataset) -> xr.DataArray:
    return nsubjettiness(ds).sel(n_axes=1, drop=True)


@observable("tau_2", units="dimensionless", long_name="2-subjettiness (beta = 1, WTA kT axes)", requires=is_jet_image)
def tau_2(ds: xr.Dataset) -> xr.DataArray:
    return nsubjettiness(ds).sel(n_axes=2, drop=True)


@observable("tau_21", units="dimensionless", long_name="tau_21 = tau_2/tau_1 (WTA kT axes; 0 when tau_1 = 0)",
            requires=is_jet_image)
def tau_21(ds: xr.Dataset) -> xr.DataArray:
    """In [0, 1]: WTA axes are nested (the τ1 axis is one of the τ2 axes), so τ2 ≤ τ1."""
    return _tau_21(nsubjettiness(ds))


@observable("tau_1_onepass", units="dimensionless", long_name="1-subjettiness (beta = 1, one-pass WTA kT axis)",
            requires=is_jet_image)
def tau_1_onepass(ds: xr.Dataset) -> xr.DataArray:
    return nsubjettiness(ds, one_pass=True).sel(n_axes=1, drop=True)


@observable("tau_2_onepass", units="dimensionless", long_name="2-subjettiness (beta = 1, one-pass WTA kT axes)",
            requires=is_jet_image)
def tau_2_onepass(ds: xr.Dataset) -> xr.DataArray:
    return nsubjettiness(ds, one_pass=True).sel(n_axes=2, drop=True)


@observable("tau_21_onepass", units="dimensionless",
            long_name="tau_21 with one-pass WTA kT axes (LAGAN's OnePass_WTA_KT_Axes; 0 when tau_1 = 0)",
            requires=is_jet_image)
def tau_21_onepass(ds: xr.Dataset) -> xr.DataArray:
    """After minimisation the axes are no longer nested, so τ21 may exceed 1 (rarely)."""
    return _tau_21(nsubjettiness(ds, one_pass=True))


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
