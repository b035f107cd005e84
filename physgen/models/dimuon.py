"""Z→μμ kinematics on torch tensors, shared by the generators of the zmumu17 features (the dense GAN of
paper 002 and the flow-matching generator): the muon features and their on-shell energies, the dimuon mass,
and the coordinate maps in which a generator learns the two muons.

The zmumu17 convention (:mod:`physgen.sim.zmumu`): the muon of larger p_T is first, and each event is
rotated so that it has p_y = 0 and p_x = its p_T > 0; momenta and energies are in GeV.
"""

from __future__ import annotations

import math

import torch

from physgen.sim.zmumu import MUON_MASS

__all__ = ["MOMENTUM_FEATURES", "MUON_COORDINATES", "MUON_FEATURES", "dimuon_mass", "from_mass_coordinates",
           "from_rest_frame_coordinates", "leading_muon_first", "muon_energies", "to_mass_coordinates", "to_rest_frame_coordinates"]

MUON_FEATURES = ("mu1_px", "mu1_pz", "mu1_e", "mu2_px", "mu2_py", "mu2_pz", "mu2_e")
"""The zmumu17 muon features (leading muon rotated to p_y = 0) that define M_ll."""


def dimuon_mass(features: dict[str, torch.Tensor]) -> torch.Tensor:
    """M_ll = sqrt((E1 + E2)² − |p1 + p2|²) of the two muons (leading muon has p_y = 0), in GeV, on torch
    tensors for the generator loss: the formula of the ``m_ll`` observable (physgen.observables.dilepton),
    made differentiable (m² clamped at 10⁻⁶ GeV², where the square root's gradient stays finite)."""
    e = features["mu1_e"] + features["mu2_e"]
    px = features["mu1_px"] + features["mu2_px"]
    py = features["mu2_py"]
    pz = features["mu1_pz"] + features["mu2_pz"]
    return torch.sqrt(torch.clamp(e * e - px * px - py * py - pz * pz, min=1e-6))


def muon_energies(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """E = sqrt(|p|² + m_μ²) of both on-shell muons from their momenta (leading muon has p_y = 0), in GeV."""
    m2 = MUON_MASS**2
    return {"mu1_e": torch.sqrt(features["mu1_px"] ** 2 + features["mu1_pz"] ** 2 + m2),
            "mu2_e": torch.sqrt(features["mu2_px"] ** 2 + features["mu2_py"] ** 2 + features["mu2_pz"] ** 2 + m2)}


MOMENTUM_FEATURES = tuple(f for f in MUON_FEATURES if not f.endswith("_e"))
"""The zmumu17 muon momenta (leading muon rotated to p_y = 0, p_x = its p_T > 0)."""


def to_mass_coordinates(f: dict[str, torch.Tensor]) -> torch.Tensor:
    """(log p_T1, η1, η2, Δφ ∈ [0, 2π), log M_ll) of the two muons from their momenta in GeV, with
    M_ll² = 2 p_T1 p_T2 (cosh Δη − cos Δφ) for massless muons (m_μ²/M_ll² ~ 10⁻⁶: negligible)."""
    pt1, pt2 = f["mu1_px"], torch.hypot(f["mu2_px"], f["mu2_py"])
    eta1, eta2 = torch.asinh(f["mu1_pz"] / pt1), torch.asinh(f["mu2_pz"] / pt2)
    dphi = torch.remainder(torch.atan2(f["mu2_py"], f["mu2_px"]), 2 * math.pi)
    m2 = 2 * pt1 * pt2 * (torch.cosh(eta1 - eta2) - torch.cos(dphi))
    return torch.stack([torch.log(pt1), eta1, eta2, dphi, 0.5 * torch.log(m2)], dim=1)


def from_mass_coordinates(c: torch.Tensor) -> dict[str, torch.Tensor]:
    """The muon momenta (GeV) of :func:`to_mass_coordinates`' coordinates, with
    p_T2 = M² / (2 p_T1 (cosh Δη − cos Δφ))."""
    pt1, eta1, eta2, dphi, m = torch.exp(c[:, 0]), c[:, 1], c[:, 2], c[:, 3], torch.exp(c[:, 4])
    pt2 = m**2 / (2 * pt1 * torch.clamp(torch.cosh(eta1 - eta2) - torch.cos(dphi), min=1e-9))
    return {"mu1_px": pt1, "mu1_pz": pt1 * torch.sinh(eta1), "mu2_px": pt2 * torch.cos(dphi),
            "mu2_py": pt2 * torch.sin(dphi), "mu2_pz": pt2 * torch.sinh(eta2)}


def _boost(p: torch.Tensor, e: torch.Tensor, beta: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Momentum (events, 3) of the four-vector (e, p) in the frame moving with −β: p + (γ²/(γ+1) β·p + γ e) β
    (the Lorentz boost, with (γ − 1)/β² written as γ²/(γ + 1) so that β → 0 is safe)."""
    bp = (beta * p).sum(dim=1, keepdim=True)
    return p + (gamma**2 / (gamma + 1) * bp + gamma * e) * beta


def to_rest_frame_coordinates(f: dict[str, torch.Tensor]) -> torch.Tensor:
    """(log M_ll, log p_T,ll, y_ll, atanh cos θ*, φ*) of the two muons (massless, momenta in GeV): the dimuon
    system, and the leading muon's polar and azimuthal angle in its rest frame, with the beam as z axis and
    the system's transverse direction as x axis. atanh cos θ* maps the bounded cos θ* to the real line, where
    the density of 1 + cos²θ* falls off smoothly; φ* ∈ (−π, π], where the leading muon is rarely at ±π."""
    zero = torch.zeros_like(f["mu1_px"])
    p1 = torch.stack([f["mu1_px"], zero, f["mu1_pz"]], dim=1)
    p2 = torch.stack([f["mu2_px"], f["mu2_py"], f["mu2_pz"]], dim=1)
    e1, e2 = p1.norm(dim=1, keepdim=True), p2.norm(dim=1, keepdim=True)
    total, energy = p1 + p2, e1 + e2
    mass = torch.sqrt(torch.clamp(energy**2 - (total**2).sum(dim=1, keepdim=True), min=1e-12))
    pt = torch.hypot(total[:, 0], total[:, 1])
    rapidity = 0.5 * torch.log((energy[:, 0] + total[:, 2]) / (energy[:, 0] - total[:, 2]))
    phi = torch.atan2(total[:, 1], total[:, 0])
    c, s = torch.cos(phi), torch.sin(phi)  # rotate the event so that the system's p_T is along +x
    q1 = torch.stack([c * p1[:, 0] + s * p1[:, 1], -s * p1[:, 0] + c * p1[:, 1], p1[:, 2]], dim=1)
    beta = torch.stack([pt, zero, total[:, 2]], dim=1) / energy
    rest = _boost(q1, e1, -beta, energy / mass)
    cos_theta = torch.clamp(rest[:, 2] / rest.norm(dim=1), -1 + 1e-7, 1 - 1e-7)
    return torch.stack([torch.log(mass[:, 0]), torch.log(pt), rapidity, torch.atanh(cos_theta),
                        torch.atan2(rest[:, 1], rest[:, 0])], dim=1)


def from_rest_frame_coordinates(coords: torch.Tensor) -> dict[str, torch.Tensor]:
    """The muon momenta (GeV) of :func:`to_rest_frame_coordinates`' coordinates, rotated back so that the
    leading muon has p_y = 0 and p_x > 0 (the zmumu17 convention)."""
    mass, pt, rapidity = torch.exp(coords[:, 0:1]), torch.exp(coords[:, 1]), coords[:, 2]
    cos_theta, phi = torch.tanh(coords[:, 3]), coords[:, 4]
    sin_theta = torch.sqrt(torch.clamp(1 - cos_theta**2, min=0))
    rest = 0.5 * mass * torch.stack([sin_theta * torch.cos(phi), sin_theta * torch.sin(phi), cos_theta], dim=1)
    mt = torch.hypot(mass[:, 0], pt)
    energy = (mt * torch.cosh(rapidity))[:, None]
    total = torch.stack([pt, torch.zeros_like(pt), mt * torch.sinh(rapidity)], dim=1)
    q1 = _boost(rest, 0.5 * mass, total / energy, energy / mass)
    q2 = total - q1
    angle = torch.atan2(q1[:, 1], q1[:, 0])
    c, s = torch.cos(angle), torch.sin(angle)
    return {"mu1_px": torch.hypot(q1[:, 0], q1[:, 1]), "mu1_pz": q1[:, 2], "mu2_px": c * q2[:, 0] + s * q2[:, 1],
            "mu2_py": -s * q2[:, 0] + c * q2[:, 1], "mu2_pz": q2[:, 2]}


MUON_COORDINATES = {"mass": (to_mass_coordinates, from_mass_coordinates),
                    "rest_frame": (to_rest_frame_coordinates, from_rest_frame_coordinates)}
"""The ``muon_coordinates`` other than ``cartesian``: (forward, inverse), five coordinates each."""


def leading_muon_first(features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The features of events relabelled to the zmumu17 convention (physgen.sim.zmumu, step 5): where the
    second muon has the larger p_T the two swap (with their isolations) and the event, MET included, is
    rotated so that the new first muon has p_y = 0, p_x > 0. Takes and returns physical values (GeV) of the
    muon momenta and, where present, ``met_px``/``met_py`` and ``mu1_iso``/``mu2_iso``; energies are not
    touched (recompute them with :func:`muon_energies`)."""
    px1, pz1, px2, py2, pz2 = (features[k] for k in MOMENTUM_FEATURES)
    pt2 = torch.hypot(px2, py2)
    swap = pt2 > px1
    angle = torch.atan2(py2, px2)
    c, s = torch.cos(angle), torch.sin(angle)
    moved = {"mu1_px": torch.where(swap, pt2, px1), "mu1_pz": torch.where(swap, pz2, pz1),
             "mu2_px": torch.where(swap, c * px1, px2), "mu2_py": torch.where(swap, -s * px1, py2),
             "mu2_pz": torch.where(swap, pz1, pz2)}
    if "met_px" in features and "met_py" in features:
        mx, my = features["met_px"], features["met_py"]
        moved |= {"met_px": torch.where(swap, c * mx + s * my, mx), "met_py": torch.where(swap, -s * mx + c * my, my)}
    if "mu1_iso" in features and "mu2_iso" in features:
        i1, i2 = features["mu1_iso"], features["mu2_iso"]
        moved |= {"mu1_iso": torch.where(swap, i2, i1), "mu2_iso": torch.where(swap, i1, i2)}
    return moved
