"""Pythia 8 (``pythia8mc``) and FastJet helpers shared by the ``jets`` and ``zmumu`` simulators.

One :class:`PythiaGenerator` holds one configured ``Pythia`` instance. Its settings are
checked with ``readString`` when it is built, so a setting Pythia rejects fails as a
``SpecError`` before any event is written. Each chunk re-initialises it with its own seed
(``Random:setSeed = on``, ``Random:seed``): an event stream then depends only on the seed,
not on what the instance generated before, and a parallel run equals a serial one.

A generator may carry a Pythia user hook (``UserHooks``) that vetoes events during generation;
it then runs with ``Check:abortIfVeto = on``, so a vetoed event is a failed ``next()`` that
``nextBatch`` skips: a batch of ``n`` attempts holds the events that survived.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import awkward as ak
import numpy as np

from physgen.errors import SpecError
from physgen.provenance import package_version

__all__ = ["PythiaGenerator", "check_acceptance", "event_weights", "fastjet_module", "final_state", "pythia_seed",
           "pythia_version"]

#: Pythia accepts seeds 0 ≤ s ≤ 900 000 000 (0 means "from the clock", so we avoid it).
_MAX_SEED = 900_000_000
#: Output switches: no banner, no event listings, no progress counter. Not physics.
_QUIET = ("Print:quiet = on", "Next:numberShowEvent = 0", "Next:numberCount = 0")
#: Events generated without a single accepted one before the selection is called impossible.
_GIVE_UP_AFTER = 2000
#: PDG ids that leave no trace in a detector.
NEUTRINOS = (12, 14, 16)


@contextmanager
def _c_stdout_silenced() -> Iterator[None]:
    """Send what C++ code writes to the process's stdout (file descriptor 1) to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@cache
def fastjet_module():
    """The ``fastjet`` module, after a first clustering that swallows FastJet's banner."""
    import fastjet

    with _c_stdout_silenced():
        fastjet.ClusterSequence([fastjet.PseudoJet(1.0, 0.0, 0.0, 1.0)],
                                fastjet.JetDefinition(fastjet.antikt_algorithm, 0.4)).inclusive_jets()
    return fastjet


def pythia_version() -> str:
    return package_version("pythia8mc")


def pythia_seed(state: int) -> int:
    """A Pythia seed in [1, 900 000 000) from a 64-bit ``SeedSequence.generate_state`` word."""
    return 1 + int(state) % (_MAX_SEED - 1)


class PythiaGenerator:
    """A Pythia instance configured by ``settings`` (Pythia ``readString`` lines), with an optional
    user hook that vetoes events (``hooks``, a ``pythia8mc.UserHooks``)."""

    def __init__(self, settings: list[str], *, what: str, hooks=None):
        import pythia8mc

        self.settings = [*settings, *(["Check:abortIfVeto = on"] if hooks is not None else [])]
        self.what = what
        self.hooks = hooks  # Pythia keeps only a pointer: the hook must live as long as the generator
        self._pythia = pythia8mc.Pythia("", False)
        if hooks is not None:
            self._pythia.setUserHooksPtr(hooks)
        with _c_stdout_silenced():  # Pythia prints its own complaint; ours below says it in one line
            rejected = [line for line in (*_QUIET, "Random:setSeed = on", *self.settings)
                        if not self._pythia.readString(line)]
        if rejected:
            msg = f"{what}: Pythia rejects the setting {rejected[0]!r}"
            raise SpecError(msg)

    def start(self, seed: int) -> None:
        """(Re-)initialise with ``seed``; raises ``SpecError`` if Pythia cannot initialise."""
        self._pythia.readString(f"Random:seed = {seed}")
        if not self._pythia.init():
            msg = f"{self.what}: Pythia failed to initialise with settings {self.settings}"
            raise SpecError(msg)

    def batch(self, n: int) -> ak.Array:
        """``n`` attempts as an awkward array of events (fields ``prt`` and ``info``; failed and vetoed
        events skipped)."""
        return self._pythia.nextBatch(n)

    @property
    def particle_data(self):
        return self._pythia.particleData

    @property
    def all_settings(self) -> list[str]:
        """Every setting this generator applies (output switches, seeding, physics), for provenance."""
        return [*_QUIET, "Random:setSeed = on", "Random:seed = <per chunk>", *self.settings]


def final_state(batch: ak.Array, *, visible: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Final-state particles of a batch, flattened: (event index per particle, columns).

    Columns: ``id``, ``px``, ``py``, ``pz``, ``e`` (GeV), ``pt``, ``eta``, ``phi``. With ``visible``,
    neutrinos are dropped.
    """
    prt = batch.prt
    keep = prt.status > 0
    if visible:
        aid = abs(prt.id)
        for nu in NEUTRINOS:
            keep = keep & (aid != nu)
    sel = prt[keep]
    counts = ak.to_numpy(ak.num(sel))
    cols = {"id": ak.to_numpy(ak.flatten(sel.id))}
    for c in ("px", "py", "pz", "e"):
        cols[c] = ak.to_numpy(ak.flatten(sel.p[c])).astype(np.float64)
    cols["pt"] = np.hypot(cols["px"], cols["py"])
    cols["eta"] = np.arcsinh(np.divide(cols["pz"], cols["pt"], out=np.full_like(cols["pz"], np.inf),
                                       where=cols["pt"] > 0))
    cols["phi"] = np.arctan2(cols["py"], cols["px"])
    return np.repeat(np.arange(len(counts)), counts), cols


def event_weights(batch: ak.Array) -> np.ndarray:
    """Nominal event weight of each event of a batch."""
    return ak.to_numpy(ak.firsts(batch.info.weights)).astype(np.float64)


def check_acceptance(generated: int, kept: int, what: str) -> None:
    """Raise ``SpecError`` when ``generated`` events gave nothing: the selection is (nearly) impossible."""
    if kept == 0 and generated >= _GIVE_UP_AFTER:
        msg = f"{what}: none of {generated} generated events passed the selection; check the cuts"
        raise SpecError(msg)
