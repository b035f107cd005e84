"""Data-free Geant4 physics lists, built from the C++ symbols of the geant4_pybind 0.1.3 wheel.

Every stock EM constructor of Geant4 11.4 reads a data set at the first event (options 0–2 the
Seltzer–Berger bremsstrahlung tables ``G4LEDATA/brem_SB``, options 3/4, Livermore and the
single-scattering lists ``G4LEDATA/fluor``) and FTFP_BERT reads ``G4PARTICLEXS``; none can be
had offline. The processes and models below compute everything from formulae
(``shared/GEANT4.md``, measured against the published CaloGAN sample). geant4_pybind binds the
physics-list classes but not single processes and models, so they are created with
``operator new`` and the constructor symbols of the statically linked Geant4 through
:mod:`ctypes`, then handed to ``G4PhysicsListHelper::RegisterProcess`` exactly as a C++
physics constructor does. The mangled names tie this module to the pinned wheel and to
Linux/libstdc++ (:mod:`._offline` checks the version).

Two lists, by name:

* ``datafree_em`` — e±: Urban multiple scattering, Møller–Bhabha ionisation,
  relativistic bremsstrahlung (``G4eBremsstrahlungRelModel``, LPM) at all energies,
  e+ annihilation; γ: photo-electric effect (``G4PEEffectFluoModel``, Sandia tables),
  Klein–Nishina Compton scattering, Bethe–Heitler conversion with LPM
  (``G4PairProductionRelModel``).
* ``datafree_ftfp_bert`` — the above plus G4DecayPhysics, EM for charged hadrons, muons and
  ions (``G4EmBuilder::ConstructCharged``, ``G4ionIonisation``), FTFP_BERT inelastic
  (Bertini below 6 GeV, FTFP above 3 GeV) with computed Barashenkov–Glauber–Gribov cross
  sections for π, K, p, n, hyperons and anti-ions, G4StoppingPhysics and G4IonPhysics.
"""

from __future__ import annotations

import ctypes

from physgen.sim.geant4._lists import PHYSICS_LISTS
from physgen.sim.geant4._offline import load_geant4

__all__ = ["build_physics_list"]

g4 = load_geant4()


# ---------------------------------------------------------------- C++ objects through ctypes
_LIB = ctypes.CDLL(g4.__file__)  # the module already loaded: the same handle and statically linked Geant4
_CXX = ctypes.CDLL("libstdc++.so.6")
_VOID, _INT, _BOOL = ctypes.c_void_p, ctypes.c_int, ctypes.c_bool
_OBJECT_BYTES = 1 << 16
"""Bytes given to each object made here: more than the size of any of these classes (≈ 1 KiB at most);
the memory is Geant4's from then on (its destructors ``delete`` it)."""
_EM_PROCESS_TYPE = 2  # G4ProcessType::fElectromagnetic
_alive: list[object] = []  # G4String buffers: processes keep references to their names' owners


def _function(symbol: str, restype, *argtypes):
    function = _LIB[symbol]
    function.restype, function.argtypes = restype, list(argtypes)
    return function


_operator_new = _CXX["_Znwm"]
_operator_new.restype, _operator_new.argtypes = _VOID, [ctypes.c_size_t]
_string_ctor = _CXX["_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEC1EPKcRKS3_"]
_string_ctor.restype, _string_ctor.argtypes = None, [_VOID, ctypes.c_char_p, _VOID]


def _g4string(text: str) -> int:
    """Address of a G4String (a ``std::string``, C++11 ABI) holding ``text``, kept alive for the process."""
    buffer, allocator = ctypes.create_string_buffer(64), ctypes.create_string_buffer(8)
    _string_ctor(ctypes.addressof(buffer), text.encode(), ctypes.addressof(allocator))
    _alive.append((buffer, allocator))
    return ctypes.addressof(buffer)


def _new(constructor: str, argtypes: tuple = (), *args) -> int:
    """``new T(args...)`` for the class whose (mangled) constructor symbol is ``constructor``."""
    address = _operator_new(_OBJECT_BYTES)
    ctypes.memset(address, 0, _OBJECT_BYTES)
    _function(constructor, None, _VOID, *argtypes)(address, *args)
    return address


_NAMED = (_VOID,)  # (const G4String&)
_NAMED_TYPED = (_VOID, _INT)  # (const G4String&, G4ProcessType)
_DEFINITIONS = {
    "e-": "_ZN10G4Electron8ElectronEv", "e+": "_ZN10G4Positron8PositronEv", "gamma": "_ZN7G4Gamma5GammaEv",
    "neutron": "_ZN9G4Neutron7NeutronEv", "GenericIon": "_ZN12G4GenericIon10GenericIonEv",
}


def _register(process: int, particle: str) -> None:
    helper = _function("_ZN19G4PhysicsListHelper20GetPhysicsListHelperEv", _VOID)()
    register = _function("_ZN19G4PhysicsListHelper15RegisterProcessEP10G4VProcessP20G4ParticleDefinition",
                         _BOOL, _VOID, _VOID, _VOID)
    if not register(helper, process, _function(_DEFINITIONS[particle], _VOID)()):
        msg = f"G4PhysicsListHelper::RegisterProcess refused a process for {particle}"
        raise RuntimeError(msg)


def _construct_em_processes() -> None:
    """e± and γ processes of ``datafree_em`` (see the module docstring)."""
    set_loss_model = _function("_ZN20G4VEnergyLossProcess10SetEmModelEP10G4VEmModeli", None, _VOID, _VOID, _INT)
    set_model = _function("_ZN12G4VEmProcess10SetEmModelEP10G4VEmModeli", None, _VOID, _VOID, _INT)
    for lepton in ("e-", "e+"):
        _register(_new("_ZN21G4eMultipleScatteringC1ERK8G4String", _NAMED, _g4string("msc")), lepton)
        _register(_new("_ZN13G4eIonisationC1ERK8G4String", _NAMED, _g4string("eIoni")), lepton)
        brems = _new("_ZN17G4eBremsstrahlungC1ERK8G4String", _NAMED, _g4string("eBrem"))
        relativistic = _new("_ZN25G4eBremsstrahlungRelModelC1EPK20G4ParticleDefinitionRK8G4String",
                            (_VOID, _VOID), None, _g4string("eBremLPM"))
        set_loss_model(brems, relativistic, 0)  # model 0 (< 1 GeV); the process adds its own RelModel above
        _register(brems, lepton)
    _register(_new("_ZN19G4eplusAnnihilationC1ERK8G4String", _NAMED, _g4string("annihil")), "e+")
    photo = _new("_ZN21G4PhotoElectricEffectC1ERK8G4String13G4ProcessType", _NAMED_TYPED, _g4string("phot"),
                 _EM_PROCESS_TYPE)
    set_model(photo, _new("_ZN19G4PEEffectFluoModelC1ERK8G4String", _NAMED, _g4string("PhotoElectric")), 0)
    _register(photo, "gamma")
    _register(_new("_ZN19G4ComptonScatteringC1ERK8G4String13G4ProcessType", _NAMED_TYPED, _g4string("compt"),
                   _EM_PROCESS_TYPE), "gamma")  # Klein-Nishina is its default model
    _register(_new("_ZN17G4GammaConversionC1ERK8G4String13G4ProcessType", _NAMED_TYPED, _g4string("conv"),
                   _EM_PROCESS_TYPE), "gamma")  # G4PairProductionRelModel is its default model


def _construct_charged_em() -> None:
    """EM of μ, π, K, p, light ions and the rest (Geant4's own builder: Urban msc, Bragg/Bethe–Bloch)."""
    msc = _new("_ZN21G4hMultipleScatteringC1ERK8G4String", _NAMED, _g4string("ionmsc"))
    _register(msc, "GenericIon")
    _register(_new("_ZN15G4ionIonisationC1ERK8G4String", _NAMED, _g4string("ionIoni")), "GenericIon")
    _function("_ZN11G4EmBuilder16ConstructChargedEP21G4hMultipleScatteringP17G4NuclearStoppingb",
              None, _VOID, _VOID, _BOOL)(msc, None, False)


def _construct_hadron_inelastic() -> None:
    """FTFP_BERT inelastic with computed cross sections only (BGG for p, n, π; Glauber–Gribov for the rest)."""

    def build(builder: str, models: list[tuple[str, tuple, tuple]]) -> None:
        main = _new(f"_ZN{builder}C1Ev")
        for constructor, argtypes, args in models:
            _function(f"_ZN{builder}10RegisterMeEP25G4PhysicsBuilderInterface", None, _VOID, _VOID)(
                main, _new(constructor, argtypes, *args))
        _function(f"_ZN{builder}5BuildEv", None, _VOID)(main)

    no_quasi_elastic = ((_BOOL,), (False,))
    build("13G4PionBuilder", [("_ZN17G4FTFPPionBuilderC1Eb", *no_quasi_elastic), ("_ZN20G4BertiniPionBuilderC1Ev", (), ())])
    build("15G4ProtonBuilder", [("_ZN19G4FTFPProtonBuilderC1Eb", *no_quasi_elastic),
                                ("_ZN22G4BertiniProtonBuilderC1Ev", (), ())])
    for species in ("19BuildKaonsFTFP_BERT", "22BuildAntiLightIonsFTFP", "22BuildHyperonsFTFP_BERT"):
        _function(f"_ZN17G4HadronicBuilder{species}Ev", None)()
    # neutrons: G4FTFPNeutronBuilder would attach G4NeutronInelasticXS (a data set), so the FTFP model comes
    # from a pion builder (which adds no cross section to a neutron process) and Bertini from the neutron one
    neutron = _function(_DEFINITIONS["neutron"], _VOID)()
    inelastic = _new("_ZN24G4HadronInelasticProcessC1ERK8G4StringPK20G4ParticleDefinition", (_VOID, _VOID),
                     _g4string("neutronInelastic"), neutron)
    for builder, signature, argtypes, args in (("17G4FTFPPionBuilder", "Eb", *no_quasi_elastic),
                                               ("23G4BertiniNeutronBuilder", "Ev", (), ())):
        _function(f"_ZN{builder}5BuildEP24G4HadronInelasticProcess", None, _VOID, _VOID)(
            _new(f"_ZN{builder}C1{signature}", argtypes, *args), inelastic)
    _function("_ZN17G4HadronicProcess10AddDataSetEP22G4VCrossSectionDataSet", None, _VOID, _VOID)(
        inelastic, _new("_ZN23G4BGGNucleonInelasticXSC1EPK20G4ParticleDefinition", (_VOID,), neutron))
    _register(inelastic, "neutron")


# ---------------------------------------------------------------- physics constructors and lists
class _DataFreeEm(g4.G4VPhysicsConstructor):
    def __init__(self):
        super().__init__("physgen_datafree_em")

    def ConstructParticle(self):  # noqa: N802  (Geant4's method names)
        g4.G4Gamma.GammaDefinition()
        g4.G4Electron.ElectronDefinition()
        g4.G4Positron.PositronDefinition()
        g4.G4Geantino.GeantinoDefinition()

    def ConstructProcess(self):  # noqa: N802
        _construct_em_processes()


class _DataFreeHadronic(g4.G4VPhysicsConstructor):
    """Charged-hadron EM and hadron inelastic; the particles themselves come from G4DecayPhysics."""

    def __init__(self):
        super().__init__("physgen_datafree_hadronic")

    def ConstructParticle(self):  # noqa: N802
        pass

    def ConstructProcess(self):  # noqa: N802
        _construct_charged_em()
        _construct_hadron_inelastic()


class _PhysicsList(g4.G4VModularPhysicsList):
    def __init__(self, hadronic: bool):
        super().__init__()
        self.SetVerboseLevel(0)
        self.constructors = [_DataFreeEm()]
        if hadronic:  # G4DecayPhysics also defines every particle; stopping: captures at rest; ions: d, t, α, ions
            self.constructors += [g4.G4DecayPhysics(), _DataFreeHadronic(), g4.G4StoppingPhysics(), g4.G4IonPhysics()]
        for constructor in self.constructors:
            self.RegisterPhysics(constructor)


def build_physics_list(name: str) -> g4.G4VModularPhysicsList:
    """A fresh instance of the data-free physics list ``name`` (a key of :data:`PHYSICS_LISTS`)."""
    return _PhysicsList(PHYSICS_LISTS[name].hadronic)
