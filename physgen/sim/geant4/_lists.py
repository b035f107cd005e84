"""The data-free physics lists by name: the primaries each can shoot and how each differs from
the stock Geant4 list it stands in for (``shared/GEANT4.md``). Plain data: reading it needs no
Geant4; :mod:`._physics` builds the lists themselves."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PHYSICS_LISTS", "PhysicsListInfo"]

EM_DIFFERENCES = (
    "bremsstrahlung below 1 GeV from the relativistic model (G4eBremsstrahlungRelModel) instead of "
    "Seltzer-Berger tables (few-% effect on the longitudinal shape at most)",
    "photo-electric effect from Sandia parametrisations (G4PEEffectFluoModel) instead of Livermore "
    "(matters for photons below ~1 MeV only); no atomic de-excitation",
    "no Rayleigh scattering; no e+e- pair production by e+-",
    "Urban multiple scattering for e+- at all energies (standard lists use WentzelVI above 100 MeV)",
)
"""How ``datafree_em`` differs from G4EmStandardPhysics (option 0), shared/GEANT4.md."""

HADRONIC_DIFFERENCES = (
    "neutron inelastic cross section from BGG (G4BGGNucleonInelasticXS) instead of G4NeutronInelasticXS",
    "no neutron capture, no hadron elastic scattering, no gamma- or electro-nuclear reactions",
    "no discrete de-excitation gammas (empty level-gamma data)",
)
"""How the hadronic part of ``datafree_ftfp_bert`` differs from FTFP_BERT, shared/GEANT4.md."""


@dataclass(frozen=True)
class PhysicsListInfo:
    """A data-free physics list: its name, the primaries it can shoot and how it differs from stock Geant4."""

    name: str
    standard: str
    particles: tuple[str, ...]
    differences: tuple[str, ...]
    hadronic: bool

    def provenance(self) -> dict[str, object]:
        return {"name": self.name, "closest_standard_list": self.standard, "primaries": list(self.particles),
                "differences_from_standard": list(self.differences)}


_EM_PARTICLES = ("e-", "e+", "gamma")
PHYSICS_LISTS: dict[str, PhysicsListInfo] = {
    "datafree_em": PhysicsListInfo("datafree_em", "G4EmStandardPhysics", _EM_PARTICLES, EM_DIFFERENCES, False),
    "datafree_ftfp_bert": PhysicsListInfo(
        "datafree_ftfp_bert", "FTFP_BERT (G4EmStandardPhysics)",
        (*_EM_PARTICLES, "pi+", "pi-", "proton", "neutron", "kaon+", "kaon-", "mu+", "mu-"),
        EM_DIFFERENCES + HADRONIC_DIFFERENCES, True),
}
"""The physics lists a ``geant4`` dataset spec can name."""
