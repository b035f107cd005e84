"""Where a classifier two-sample test finds its difference: the AUC of :func:`~physgen.metrics.classifier_test`
on each group of columns alone and on all columns without it.

A high-level classifier's AUC says how separable two samples are, not why; its 1-D marginals often look alike
while it separates on a joint or conditional feature. The groups are each observable (``layer_energy`` with its
columns ``layer_energy_0``, …) and, for observables per readout layer, each layer (the columns of two or more
observables that end in the same index ``_k``). A group whose AUC alone is high, or without which the AUC falls,
is where the generator must change. ``given`` columns (the conditions, e.g. the incident energy) stay in every
subset, so that a group alone is judged at given conditions, as the classifier on all columns judges it.
This is how the CaloGAN flows' tell was found (README, "Occupancy by incident energy"): layer 2 alone, with
E_inc, separated the positron flow with AUC 0.82, its lit-cell count per incident energy being off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics.classifier import classifier_test
from physgen.metrics.comparison import Comparison

__all__ = ["check_given", "classifier_ablation", "column_groups"]


def _index(column: str, name: str) -> str | None:
    """The index ``k`` of ``column`` = ``name_k`` (digits only), or None."""
    prefix, _, index = column.rpartition("_")
    return index if prefix == name and index.isdigit() else None


def column_groups(columns: Sequence[str], names: Sequence[str]) -> dict[str, list[str]]:
    """Per observable of ``names``, its ``columns`` (the column of that name, or ``name_k``); then, where the
    columns of two or more observables end in the same index ``k``, ``layer k`` with those columns."""
    groups = {name: [c for c in columns if c == name or _index(c, name) is not None] for name in names}
    groups = {name: cols for name, cols in groups.items() if cols}
    layers: dict[str, list[str]] = {}
    for name, cols in groups.items():
        for column in cols:
            index = _index(column, name)
            if index is not None:
                layers.setdefault(index, []).append(column)
    shared = {f"layer {k}": cols for k, cols in sorted(layers.items(), key=lambda kv: int(kv[0])) if len(cols) > 1}
    return groups | shared


def check_given(comparison: Comparison, names: Sequence[str] | None, given: Sequence[str]) -> None:
    """A clear error unless every ``given`` name is among those compared (before any work)."""
    compared = comparison.requested(names)
    unknown = [g for g in given if g not in compared]
    if unknown:
        msg = f"the given names {unknown} must be among the compared ones {compared}"
        raise PhysgenError(msg)


def classifier_ablation(comparison: Comparison, names: Sequence[str] | None = None, *, given: Sequence[str] = (),
                        seed: int = 0, epochs: int = 30) -> dict[str, dict[str, float]]:
    """``{"all columns": {"auc": …}, group: {"alone": AUC, "without": AUC}, …}`` for the groups of
    :func:`column_groups` of ``names`` (default: the comparison's, see :meth:`Comparison.columns`; ``given``
    columns in every subset; both samples' event weights used)."""
    check_given(comparison, names, given)
    ref, gen = comparison.columns(names)
    names = comparison.requested(names)
    kept = [c for g in given for c in column_groups(list(ref), [g]).get(g, [])]
    groups = column_groups(list(ref), [n for n in names if n not in given])

    def auc(columns: list[str]) -> float:
        matrices = [np.stack([side[c] for c in columns], axis=1) for side in (ref, gen)]
        return classifier_test(*matrices, seed=seed, epochs=epochs, reference_weights=comparison.reference_weights,
                               generated_weights=comparison.weights).auc

    everything = list(dict.fromkeys(kept + [c for cols in groups.values() for c in cols]))
    result: dict[str, dict[str, float]] = {"all columns": {"auc": auc(everything)}}
    for group, cols in groups.items():
        rest = [c for c in everything if c not in cols]
        result[group] = {"alone": auc(kept + cols), "without": auc(rest)}
    return result
