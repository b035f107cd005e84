"""The materials of a detector spec as Geant4 materials.

A material naming a Geant4 NIST material (``geant4: G4_Pb``) is that material, at the spec's
density when the two differ by more than 0.1 %. A material without one is built from the
spec's Z, A and density: Geant4 then takes the NIST element of the nearest integer Z (its
natural isotopes), which is exact for elements and a one-element stand-in for compounds —
give compounds their NIST name (e.g. ``G4_PLASTIC_SC_VINYLTOLUENE``).
"""

from __future__ import annotations

from physgen.errors import SpecError, did_you_mean
from physgen.sim.geant4._offline import load_geant4, quiet
from physgen.specs import LayeredCalorimeter, Material, VoxelCalorimeter
from physgen.units import to_magnitude

__all__ = ["build_materials"]

g4 = load_geant4()

_DENSITY_TOLERANCE = 1e-3


def build_materials(geometry: LayeredCalorimeter | VoxelCalorimeter, source: str) -> tuple[dict, list[dict]]:
    """Geant4 materials by spec name, and their provenance (what each was built from)."""
    materials, provenance = {}, []
    for material in geometry.materials:
        density = to_magnitude(material.density, "g/cm^3")
        key = (material.geant4, material.Z, material.A, density)
        if key not in _BUILT:
            _BUILT[key] = _build(material, density, source)
        materials[material.name], record = _BUILT[key]
        provenance.append({"name": material.name, **record})
    return materials, provenance


_BUILT: dict[tuple, tuple] = {}
"""Materials built in this process, by (NIST name, Z, A, density): Geant4 keeps every material for good."""


def _build(material: Material, density: float, source: str):
    name = f"physgen_{len(_BUILT)}_{material.name}"
    if material.geant4 is None:
        with quiet():  # Geant4 warns when Z or A differ from the NIST element's; the provenance says it instead
            built = g4.G4Material(name, material.Z, material.A * g4.g / g4.mole, density * g4.g / g4.cm3)
        return built, {"built_from": "Z, A, density (nearest NIST element)", "Z": material.Z, "A": material.A,
                       "density_g_cm3": density}
    nist = g4.G4NistManager.Instance()
    with quiet():
        base = nist.FindOrBuildMaterial(material.geant4, False)
    if base is None:
        known = [str(n) for n in nist.GetNistMaterialNames()]
        msg = (f"{source}: material {material.name!r} names Geant4 material {material.geant4!r}, which Geant4 does not "
               f"know{did_you_mean(material.geant4, known, listing=None)} (materials are G4NistManager names such as "
               f"G4_Pb, G4_lAr, G4_W, G4_Si)")
        raise SpecError(msg)
    record = {"geant4": material.geant4, "density_g_cm3": density}
    nist_density = base.GetDensity() / (g4.g / g4.cm3)
    if abs(nist_density - density) <= _DENSITY_TOLERANCE * nist_density:
        return base, record
    with quiet():
        built = nist.BuildMaterialWithNewDensity(name, material.geant4, density * g4.g / g4.cm3)
    return built, record | {"nist_density_g_cm3": nist_density}
