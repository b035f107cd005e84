"""Synthetic stores and hypothesis strategies for the observable and metric tests.

The stores have exactly the schema of the shipped detector and feature specs, filled with
cheap shower-, jet- and Z→μμ-like random numbers (not physics: the real simulators live in
``physgen.sim``). ``distortion`` scales energies and widths, to make a "bad generator".
"""

from __future__ import annotations

import functools
import os

import numpy as np
import xarray as xr
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from physgen.schema import EVENT, StoreSchema
from physgen.specs import SpecRegistry
from physgen.store import ResolvedDataset, create_store

__all__ = ["make_store", "synthetic_events", "as_dataset", "image_dataset", "images", "layer_cells", "samples",
           "weights_for"]

Z_MASS, Z_WIDTH = 91.19, 2.5


def _blob(rng, n, y, x, width, total):
    """Energy on a (y, x) cell grid from a Gaussian blob of per-event ``width`` and ``total``, sparsified."""
    yy, xx = np.meshgrid(y, x, indexing="ij")
    cy, cx = rng.normal(0, 0.2 * width[:, None, None], (2, n, 1, 1))
    density = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width[:, None, None] ** 2))
    cells = density * rng.gamma(2.0, 0.5, density.shape)
    cells[cells < 0.02 * cells.max(axis=(1, 2), keepdims=True)] = 0.0
    norm = cells.sum(axis=(1, 2), keepdims=True)
    return (cells / np.where(norm > 0, norm, 1.0) * total[:, None, None]).astype(np.float32)


def _calo(schema: StoreSchema, rng, n, distortion):
    incident = rng.uniform(1, 100, n)  # GeV
    names = list(schema.coords["layer"][1]["names"])
    fractions = rng.dirichlet([2.0, 6.0 * (1 + distortion), 1.0][: len(names)], n)
    deposit = (incident * 1000 * rng.normal(0.95, 0.02, n))[:, None] * fractions  # MeV
    out = {}
    for i, name in enumerate(names):
        var = schema[name]
        ydim, xdim = var.dims
        width = rng.uniform(20, 40, n) * (1 + distortion) * (1 + 0.5 * i)
        out[name] = _blob(rng, n, schema.coords[ydim][0], schema.coords[xdim][0], width, deposit[:, i])
    out["overflow"] = (0.01 * deposit * rng.uniform(0, 1, deposit.shape)).astype(np.float32)
    return out, incident


def _voxel(schema, rng, n, distortion):
    var = next(v for v in schema.variables if v.dims == ("z", "y", "x"))
    nz = var.shape[0]
    incident = np.full(n, 50.0)
    t = np.arange(nz) + 0.5
    tmax = rng.normal(10 * (1 + distortion), 1.5, n)[:, None]
    profile = (t / tmax) ** 2 * np.exp(-2 * (t / tmax - 1))
    deposit = profile / profile.sum(axis=1, keepdims=True) * incident[:, None] * 1000 * 0.02  # MeV in Si
    width = np.repeat(rng.uniform(4, 8, n)[:, None], nz, axis=1) * (1 + distortion)
    cells = np.stack([_blob(rng, n, schema.coords["y"][0], schema.coords["x"][0], width[:, k], deposit[:, k])
                      for k in range(nz)], axis=1)
    cells[cells < 0.1] = 0.0
    return {var.name: cells}, incident


def _jets(schema, rng, n, distortion):
    var = next(v for v in schema.variables if v.dims == ("eta", "phi"))
    eta, phi = schema.coords["eta"][0], schema.coords["phi"][0]
    pt = rng.uniform(250, 300, n)
    two_prong = rng.uniform(size=n) < 0.5
    split = np.where(two_prong, rng.uniform(0.2, 0.5, n), 0.05)
    images = np.zeros((n, eta.size, phi.size))
    for k, (share, shift) in enumerate(((1 - split, 0.0), (split, rng.uniform(0.3, 0.8, n) * (1 + distortion)))):
        e_idx = np.clip(np.searchsorted(eta, rng.normal(0, 0.05, n)), 0, eta.size - 1)
        p_idx = np.clip(np.searchsorted(phi, -shift + rng.normal(0, 0.05, n)), 0, phi.size - 1)
        images[np.arange(n), e_idx, p_idx] += share * pt * 0.8
        for _ in range(8):  # soft radiation around the prong
            de, dp = rng.integers(-3, 4, (2, n))
            images[np.arange(n), np.clip(e_idx + de, 0, eta.size - 1), np.clip(p_idx + dp, 0, phi.size - 1)] += \
                share * pt * 0.2 / 8 * rng.uniform(0.5, 1.5, n)
    return {var.name: images.astype(np.float32)}, pt, two_prong


def _zmumu(rng, n, distortion):
    """Two muons of a Breit–Wigner Z with some pT, rotated so that mu1 has p_y = 0."""
    m = Z_MASS + Z_WIDTH / 2 * np.tan(np.pi * (rng.uniform(size=n) - 0.5)) * (1 + distortion)
    m = np.clip(m, 60, 120)
    cos_t, azimuth = rng.uniform(-1, 1, n), rng.uniform(0, 2 * np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    p = m / 2
    rest = np.stack([np.full(n, p), p * sin_t * np.cos(azimuth), p * sin_t * np.sin(azimuth), p * cos_t], axis=1)
    boson = np.stack([rng.exponential(10, n), np.zeros(n), rng.normal(0, 100, n)], axis=1)
    energy = np.sqrt(m**2 + (boson**2).sum(axis=1))
    beta = boson / energy[:, None]
    gamma = energy / m
    muons = []
    for sign in (1, -1):
        e_r, p_r = rest[:, 0], sign * rest[:, 1:]
        bp = (beta * p_r).sum(axis=1)
        b2 = (beta**2).sum(axis=1)
        coef = np.where(b2 > 0, (gamma - 1) * bp / np.where(b2 > 0, b2, 1), 0) + gamma * e_r
        muons.append((gamma * (e_r + bp), p_r + coef[:, None] * beta))
    (e1, p1), (e2, p2) = muons
    lead = np.hypot(p1[:, 0], p1[:, 1]) >= np.hypot(p2[:, 0], p2[:, 1])
    (e1, p1), (e2, p2) = (np.where(lead, e1, e2), np.where(lead[:, None], p1, p2)), \
        (np.where(lead, e2, e1), np.where(lead[:, None], p2, p1))
    angle = -np.arctan2(p1[:, 1], p1[:, 0])
    c, s = np.cos(angle), np.sin(angle)

    def rotate(v):
        return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], axis=1)

    p1, p2 = rotate(p1), rotate(p2)
    jets = np.sort(rng.exponential(20, (n, 5)) * (rng.uniform(size=(n, 5)) < 0.4), axis=1)[:, ::-1]
    return {"mu1_px": p1[:, 0], "mu1_pz": p1[:, 2], "mu1_e": e1, "mu2_px": p2[:, 0], "mu2_py": p2[:, 1],
            "mu2_pz": p2[:, 2], "mu2_e": e2, "nvtx_smeared": rng.poisson(20, n) + rng.normal(0, 0.5, n),
            "met_px": rng.normal(0, 10 * (1 + distortion), n), "met_py": rng.normal(0, 10 * (1 + distortion), n),
            "mu1_iso": rng.exponential(0.05 * (1 + distortion), n), "mu2_iso": rng.exponential(0.05, n), **{f"jet{i + 1}_pt": jets[:, i] for i in range(5)}}


def synthetic_events(schema: StoreSchema, n: int, rng: np.random.Generator, distortion: float = 0.0
                     ) -> dict[str, np.ndarray]:
    """One batch of ``n`` random events with every variable of ``schema``."""
    out: dict[str, np.ndarray] = {}
    incident = pt = signal = None
    dims = {v.dims for v in schema.variables}
    if "layer" in schema.coords and "names" in schema.coords["layer"][1]:
        cells, incident = _calo(schema, rng, n, distortion)
        out |= cells
    elif ("z", "y", "x") in dims:
        cells, incident = _voxel(schema, rng, n, distortion)
        out |= cells
    elif ("eta", "phi") in dims:
        cells, pt, signal = _jets(schema, rng, n, distortion)
        out |= cells
    if "mu1_px" in schema.names:
        out |= _zmumu(rng, n, distortion)
    for var in schema.variables:
        if var.name in out:
            continue
        if var.name == "energy" and incident is not None:
            out[var.name] = incident
        elif var.name == "signal" and signal is not None:
            out[var.name] = signal.astype(np.int8)
        elif var.name == "weight":  # unweighted, as the reference simulators write (metrics honour unequal weights)
            out[var.name] = np.ones(n)
        elif var.name == "jet_pt" and pt is not None:
            out[var.name] = pt
        else:
            lo, hi = var.valid_range if var.valid_range and np.isfinite(var.valid_range[1]) else (0.0, 1.0)
            out[var.name] = rng.uniform(lo, hi, (n, *var.shape))
    return {k: np.asarray(v).astype(schema[k].dtype) for k, v in out.items()}


def make_store(url: str | os.PathLike[str], *, detector: str | None = None, features: str | None = None,
               n_events: int = 200, seed: int = 0, chunk_events: int = 64, distortion: float = 0.0,
               batch_events: int = 10_000, extra: dict[str, tuple[str, callable]] | None = None) -> str:
    """A store of synthetic events with the schema of ``detector`` + ``features`` (shipped spec names).

    ``extra`` adds per-event float variables: ``{name: (units, f(rng, n) -> array)}`` (e.g. weights).
    """
    from physgen.schema import VariableSchema

    registry = SpecRegistry.default()
    det = registry.get("detector", detector) if detector else None
    feat = registry.get("features", features) if features else None
    base = ResolvedDataset(None, det, feat)  # only the schema is used
    schema = base.schema
    if extra:
        schema = StoreSchema(schema.variables + tuple(VariableSchema(k, (), (), "float64", u, k) for k, (u, _) in extra.items()),
                             schema.coords)
    specs = {role: {"name": s.spec.name, "text": s.text, "hash": s.hash} for role, s in (("detector", det), ("features", feat)) if s}
    writer = create_store(str(url), schema, chunk_events=chunk_events, mode="overwrite",
                          provenance={"specs": specs, "producer": {"name": "synthetic", "distortion": distortion},
                                      "seed": seed})
    rng = np.random.default_rng(seed)
    for start in range(0, n_events, batch_events):
        n = min(batch_events, n_events - start)
        batch = synthetic_events(base.schema, n, rng, distortion)
        for name, (_, draw) in (extra or {}).items():
            batch[name] = draw(rng, n)
        writer.append(batch)
    return str(url)


@functools.cache
def _detector_schema(detector: str) -> StoreSchema:
    from physgen.geometry import detector_schema

    return detector_schema(SpecRegistry.default().get("detector", detector).spec)


def as_dataset(detector: str, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """A numpy-backed Dataset of ``arrays`` (cell variables of the shipped ``detector``, events first)
    with the detector's coordinates and units, as :func:`physgen.store.open_store` would give."""
    schema = _detector_schema(detector)
    coords = {dim: xr.Variable(dim, values, attrs) for dim, (values, attrs) in schema.coords.items()}
    data = {name: xr.Variable((EVENT, *schema[name].dims), value, schema[name].attrs) for name, value in arrays.items()}
    return xr.Dataset(data, coords=coords)


def image_dataset(images: np.ndarray, cell: float = 0.1) -> xr.Dataset:
    """Jet images (events, n_eta, n_phi) on a grid of ``cell``-sized pixels centred on (0, 0)."""
    from physgen.geometry import cell_centres

    n_eta, n_phi = images.shape[1:]
    return xr.Dataset(
        {"image": ((EVENT, "eta", "phi"), images, {"units": "GeV"})},
        coords={"eta": ("eta", cell_centres(n_eta, cell), {"units": "dimensionless"}),
                "phi": ("phi", cell_centres(n_phi, cell), {"units": "rad"})},
    )


# ------------------------------------------------------------------ hypothesis strategies
finite = st.floats(0.0, 1e3, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def images(draw, *, n_eta: int = 9, n_phi: int = 9, max_events: int = 4, max_active: int = 6) -> np.ndarray:
    """(events, n_eta, n_phi) float32 images with a few active pixels of pT in [1, 500] GeV."""
    n = draw(st.integers(1, max_events))
    out = np.zeros((n, n_eta, n_phi), np.float32)
    for i in range(n):
        k = draw(st.integers(1, max_active))
        cells = draw(st.lists(st.tuples(st.integers(0, n_eta - 1), st.integers(0, n_phi - 1)), min_size=k, max_size=k))
        values = draw(st.lists(st.floats(1.0, 500.0, width=32), min_size=k, max_size=k))
        for (a, b), v in zip(cells, values):
            out[i, a, b] = v
    return out


def layer_cells(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """float32 cell energies (MeV) of ``shape``, about half of them zero."""
    return hnp.arrays(np.float32, shape, elements=st.one_of(st.just(0.0), st.floats(0.0, 1e3, width=32)))


@st.composite
def samples(draw, *, min_size: int = 5, max_size: int = 60) -> np.ndarray:
    """A 1-D sample of finite floats in [−100, 100]."""
    size = draw(st.integers(min_size, max_size))
    return np.asarray(draw(st.lists(st.floats(-100, 100), min_size=size, max_size=size)))


def weights_for(sample: np.ndarray) -> st.SearchStrategy[np.ndarray]:
    """Positive weights for ``sample``."""
    return hnp.arrays(np.float64, sample.shape, elements=st.floats(0.1, 10.0))
