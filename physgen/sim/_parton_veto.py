"""A Pythia user hook that skips hadronisation for events whose parton-level jets cannot pass the jet cuts.

Pythia builds an event in two stages: the parton level (hard process, resonance decays, initial-
and final-state showers, multiparton interactions, beam remnants) and the hadron level (string
fragmentation and hadron decays), about a quarter of the generation time for these events. The jets
are made of the partons' energy: hadronisation moves about a GeV into or out of an R = 1.0 jet,
and hadron decays lose the neutrinos of semileptonic b and c decays (which only lower the jet).
So an event without a parton-level jet close to the cuts cannot give an accepted hadron-level jet,
and Pythia's ``doVetoPartonLevel`` hook (Pythia 8 manual, "User Hooks") drops it before
hadronisation. With ``Check:abortIfVeto = on`` a vetoed event ends ``next()`` as a failed event,
which ``nextBatch`` skips, so the number of attempts stays countable.

The parton-level jets: Pythia's ``SlowJet`` (with the FastJet core) clusters the visible final-state
partons (no neutrinos; |η| below the calorimeter's reach) with anti-kT of the jet radius, with
their true masses. An event goes on to hadronisation if one of these jets has

* pT > ``min_pt``, a margin below the lower jet-pT cut: trimming only lowers a jet's pT, so the
  trimmed hadron-level jet needs an untrimmed hadron-level jet above the cut;
* |η| < ``max_abs_eta``, a margin beyond the |η| cut;
* with a mass window, mass > ``min_mass``, a margin below the window: trimming only lowers the
  mass (the calorimeter cells are massless, so m² = Σ_{i<j} 2 p_i·p_j is a sum of non-negative
  terms and removing cells removes terms), so the accepted trimmed jet needs an untrimmed jet above
  the window's lower edge.

No upper cut (jet pT or mass) is applied: semileptonic decays and trimming can move a parton-level
jet that is above the window into it. The margins are spec options (``parton_veto``); the
measured loss of accepted jets is in ``benchmarks/results/pythia.md``.
"""

from __future__ import annotations

import pythia8mc

__all__ = ["PartonJetVeto"]

#: SlowJet particle selection: every visible final-state particle (no neutrinos); true masses.
_VISIBLE, _TRUE_MASSES = 2, 2


class PartonJetVeto(pythia8mc.UserHooks):
    """Veto events without a parton-level jet above ``min_pt`` (and ``min_mass``) within ``max_abs_eta``."""

    def __init__(self, *, radius: float, max_particle_eta: float, min_pt: float, max_abs_eta: float,
                 min_mass: float | None = None):
        super().__init__()
        self._slowjet = pythia8mc.SlowJet(-1, radius, min_pt, max_particle_eta, _VISIBLE, _TRUE_MASSES, None, True)
        self._max_abs_eta = max_abs_eta
        self._min_mass = min_mass

    def canVetoPartonLevel(self) -> bool:  # noqa: N802 (Pythia's name)
        return True

    def doVetoPartonLevel(self, event) -> bool:  # noqa: N802 (Pythia's name)
        return not self.can_pass(event)

    def can_pass(self, event) -> bool:
        """Whether one parton-level jet of ``event`` is near enough to the cuts to give an accepted jet."""
        jets = self._slowjet
        jets.analyze(event)
        return any(abs(jets.p(i).eta()) < self._max_abs_eta and (self._min_mass is None or jets.m(i) > self._min_mass)
                   for i in range(jets.sizeJet()))
