"""Fit the free constants of the parametric shower model to Geant4 samples (issue 12, item 3).

For one *target* (a tune of ``physgen/sim/showers/tunes.yaml`` and the part of it to fit: its EM
constants against CaloGAN e+ and γ, or its pion constants against CaloGAN π+), the
parametric model is run at the incident energies of the Geant4 reference samples (each energy
``--repeat`` times, with one fixed seed, so the objective is a smooth function of the constants),
and scipy's bounded Nelder–Mead minimises the mean separation power ⟨S²⟩ over the shower-shape
columns of :mod:`physgen.sim.showers._fidelity`, on the whole sample and within ``--energy-slices``
slices of incident energy (less their counting noise), averaged over the target's samples. With
``--objective moments`` the slices are scored instead by what a classifier of the shower shapes sees
first: per column the shift of the mean in units of Geant4's spread and the log ratio of the spreads,
and the difference of every pairwise correlation (:func:`moment_distance`), plus the whole-sample ⟨S²⟩.
The energy resolution is scored on its own as well (``--resolution-weight`` times the mean over the
slices of ln²(σ_param/σ_Geant4) of E_tot/E_inc, :func:`resolution_distance`): it is one column among
twenty in the other terms, and a fit that narrowed the profile's fluctuations (less back leakage)
could otherwise trade the resolution at high energy for the shapes.
With ``--write`` the fitted values go back into ``tunes.yaml`` with their source.

    python benchmarks/tune_showers.py calogan_em --reference e+=geant4_calogan_eplus \
        --reference gamma=geant4_calogan_gamma --write
    python benchmarks/tune_showers.py calogan_pion --reference pi+=geant4_calogan_piplus --write

A reference is a shipped Geant4 validation sample (by name), a Geant4 store, or a prototype ``.npz``
(GEANT4.md); several references of one particle are all scored.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _geant4_samples import load_reference, parametric_simulator  # noqa: E402

from physgen.sim.showers._fidelity import fidelity, simulated_columns  # noqa: E402
from physgen.sim.showers._tune import TUNES_FILE, load_tune  # noqa: E402

TARGETS = {
    # name: (tune, part, {constant: (low, high)})
    "calogan_em": ("geant4", "em", {
        "spots_per_gev": (5.0, 100.0), "flat_depth_share": (0.0, 0.5), "deposit_quantum": (0.0, 10.0), "t_max_shift": (-1.5, 1.5),
        "alpha_scale": (0.7, 1.3), "profile_spread_scale": (0.3, 1.5), "alpha_spread_ratio": (0.3, 2.0), "profile_correlation_shift": (-0.6, 0.4), "radial_tau_coupling": (0.0, 1.0), "axis_wander": (0.0, 0.1), "core_radius_scale": (0.3, 3.0),
        "tail_radius_scale": (0.3, 3.0), "radius_cutoff": (1.0, 10.0), "tail_growth_scale": (0.0, 1.5), "halo_fraction": (0.0, 0.2),
        "halo_radius": (0.2, 8.0), "halo_depth": (0.05, 10.0), "halo_depth_forward": (0.05, 15.0),
        "halo_spots_per_gev": (5.0, 90.0),  # most spots of a shower are halo spots: above ~90 the CaloGAN rate falls below 1000/s
        "halo_spot_exponent": (0.6, 1.2), "halo_count_spread": (0.0, 2.0), "halo_energy_spread": (0.0, 2.0), "t_max_slope": (0.8, 1.2), "pair_t_max_shift": (-1.5, 1.0), "quantum_radius": (0.0, 8.0),
        "radial_spread_share": (0.0, 0.9), "radial_spread_radius": (0.3, 4.0), "radial_spread_depth": (0.05, 2.0)}),
    "ild_em": ("geant4_ild", "em", {  # one energy (50 GeV photons): score the whole sample, e.g. --objective moments
        "t_max_shift": (-1.5, 1.5), "pair_t_max_shift": (-1.5, 1.0), "alpha_scale": (0.8, 1.2),
        "profile_spread_scale": (0.4, 1.3), "radial_tau_coupling": (0.0, 1.0), "core_radius_scale": (0.6, 2.0),
        "tail_radius_scale": (0.5, 1.3), "radius_cutoff": (4.0, 10.0), "depth_clump_energy": (0.0, 400.0),
        "depth_clump_length": (0.0, 2.0), "halo_fraction": (0.01, 0.12), "halo_radius": (0.5, 2.5),
        "halo_spots_per_gev": (20.0, 160.0), "track_length_spread": (0.0, 0.06), "active_signal_scale": (0.9, 1.05),
        "crossing_obliquity": (1.0, 2.0), "flat_depth_share": (0.0, 0.5), "halo_depth_forward": (0.3, 6.0)}),
    "calogan_pion": ("geant4", "pion", {
        "lambda_scale": (0.8, 1.6), "f_em_exponent": (0.7, 0.95), "f_em_concentration": (1.0, 20.0),
        "e_over_h": (1.0, 2.5), "pi0_extra_showers": (0.0, 5.0), "secondary_pt": (0.05, 2.0), "hadron_radius": (0.05, 1.0), "hadron_depth_spread": (0.005, 1.0), "hadron_spots_per_gev": (5.0, 300.0),
        "track_step_spread": (0.1, 1.5), "delta_ray_radius": (0.05, 10.0), "delta_ray_share": (0.0, 0.8),
        "soft_photon_share": (0.0, 0.6), "soft_photon_energy": (0.1, 5.0), "soft_photon_path": (5.0, 300.0),
        "soft_photon_depth_spread": (0.0, 1.0), "track_photon_share": (0.0, 0.2)}),
}


def moment_distance(reference: dict[str, np.ndarray], generated: dict[str, np.ndarray]) -> float:
    """Distance of two sets of shower-shape columns by their first two moments: the mean over columns of
    ((mean_g − mean_r)/sd_r)² + ln(sd_g/sd_r)², plus the mean over column pairs of the squared difference of
    their correlation coefficients (each term capped at 4, so that one degenerate column cannot dominate).
    A classifier two-sample test separates mostly on these; unlike its AUC, this is smooth in the constants."""
    names = [k for k in reference if k in generated and np.std(reference[k]) > 0]
    r = np.stack([reference[k] for k in names], axis=1)
    g = np.stack([generated[k] for k in names], axis=1)
    sd_r, sd_g = r.std(axis=0), np.maximum(g.std(axis=0), 1e-12)
    marginal = np.minimum(((g.mean(axis=0) - r.mean(axis=0)) / sd_r) ** 2 + np.log(sd_g / sd_r) ** 2, 4.0)
    upper = np.triu_indices(len(names), 1)
    correlation = (np.nan_to_num(np.corrcoef(g, rowvar=False)) - np.corrcoef(r, rowvar=False))[upper] ** 2
    return float(np.mean(marginal) + np.mean(np.minimum(correlation, 4.0)))


RESOLUTION_COLUMN = "total_over_incident"
"""E_tot/E_inc: its spread within a slice of incident energy is the energy resolution σ/E."""


def resolution_distance(reference: dict[str, np.ndarray], generated: dict[str, np.ndarray]) -> float:
    """ln²(σ_g/σ_r) of E_tot/E_inc: the squared log ratio of the two energy resolutions (0 when equal)."""
    sd_r = np.std(reference[RESOLUTION_COLUMN])
    sd_g = np.std(generated[RESOLUTION_COLUMN])
    return float(np.log(max(sd_g, 1e-12) / max(sd_r, 1e-12)) ** 2)


def objective_factory(target: str, references, repeat: int, seed: int, energy_slices: int, kind: str = "s2",
                      resolution_weight: float = 0.0):
    tune_name, part, bounds = TARGETS[target]
    names = list(bounds)
    lo, hi = (np.array([bounds[n][i] for n in names]) for i in (0, 1))
    base = load_tune(tune_name)
    sims = {ref.name: parametric_simulator(ref.name) for ref in references}
    history, best = [], {}

    def constants(x: np.ndarray) -> dict[str, float]:
        return dict(zip(names, (lo + np.clip(x, 0, 1) * (hi - lo)).tolist()))

    def tune_with(values: dict[str, float]):
        return base.model_copy(update={part: getattr(base, part).model_copy(update=values)})

    def objective(x: np.ndarray) -> float:
        values = constants(x)
        scores, resolution = [], []
        for ref in references:
            sim = sims[ref.name]
            sim.tune = tune_with(values)
            energy = np.repeat(ref.energy_gev, repeat)
            generated = simulated_columns(sim, energy, seed)
            scores.append(np.mean(list(fidelity(ref.columns, generated, classifier=False).s2.values())))
            # the same in energy slices: a classifier sees the energy (layer energies), so the
            # shapes must follow Geant4's energy dependence, not only its mixture over energies
            cuts = np.quantile(ref.energy_gev, np.linspace(0, 1, energy_slices + 1)[1:-1])
            ref_slice, gen_slice = np.digitize(ref.energy_gev, cuts), np.digitize(energy, cuts)
            if kind == "moments" and energy_slices == 1:  # one slice: the moments of the whole sample
                scores.append(moment_distance(ref.columns, generated))
            for i in range(energy_slices if energy_slices > 1 else 0):
                ref_part = {k: v[ref_slice == i] for k, v in ref.columns.items()}
                gen_part = {k: v[gen_slice == i] for k, v in generated.items()}
                if RESOLUTION_COLUMN in ref_part:
                    resolution.append(resolution_distance(ref_part, gen_part))
                if kind == "moments":
                    scores.append(moment_distance(ref_part, gen_part))
                    continue
                part = fidelity(ref_part, gen_part, classifier=False)
                scores.append(np.mean(list(part.s2.values())) - part.s2_noise)
        score = float(np.mean(scores)) + (resolution_weight * float(np.mean(resolution)) if resolution else 0.0)
        if not history or score < min(history):
            best.update(values)
        history.append(score)
        if len(history) % 10 == 1:
            print(f"  eval {len(history):4d}: mean S2 {score:.4f}; best {min(history):.4f} at "
                  + " ".join(f"{k}={v:.4g}" for k, v in best.items()), flush=True)
        return score

    start = np.array([(getattr(getattr(base, part), n) - lo[i]) / (hi[i] - lo[i]) for i, n in enumerate(names)])
    return objective, np.clip(start, 0, 1), constants


def write_tune(target: str, values: dict[str, float], references, score: float) -> None:
    tune_name, part, _ = TARGETS[target]
    text = TUNES_FILE.read_text()
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    tunes = yaml.safe_load(text)
    samples = ", ".join(f"{r.name} ({len(r.energy_gev)} showers, {Path(r.path).name})" for r in references)
    source = f"fitted to Geant4 {samples} by benchmarks/tune_showers.py {target} (mean S2 {score:.4f})"
    for key, value in values.items():
        tunes[tune_name][part][key] = {"value": float(f"{value:.4g}"), "source": source}
    TUNES_FILE.write_text(header + _one_line_per_constant(tunes))
    print(f"wrote {TUNES_FILE}")


def _one_line_per_constant(tunes: dict) -> str:
    """tunes.yaml as written by hand: ``name: {value: V, source: "…"}``, one constant a line."""
    lines = []
    for tune, parts in tunes.items():
        lines.append(f"{tune}:")
        for part, constants in parts.items():
            lines.append(f"  {part}:")
            lines += [f"    {key}: {{value: {item['value']}, source: {json.dumps(item['source'], ensure_ascii=False)}}}"
                      for key, item in constants.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--reference", action="append", required=True, metavar="NAME=PATH",
                        help="Geant4 sample: e+, gamma, pi+ or ild_gamma = store or prototype .npz")
    parser.add_argument("--repeat", type=int, default=3, help="parametric showers per Geant4 shower")
    parser.add_argument("--maxiter", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--energy-slices", type=int, default=3,
                        help="also score ⟨S²⟩ within this many slices of incident energy (1: whole sample only)")
    parser.add_argument("--objective", choices=("s2", "moments"), default="s2",
                        help="score of an energy slice: its mean ⟨S²⟩, or the moment distance (mean shifts, spread "
                             "ratios and correlations of the columns)")
    parser.add_argument("--resolution-weight", type=float, default=1.0,
                        help="weight of the energy-resolution term (ln² of σ(E_tot/E_inc) ratios in the energy slices)")
    parser.add_argument("--fix", nargs="*", default=[], help="constants to keep at their current value")
    parser.add_argument("--free", nargs="*", default=None, help="fit only these constants (the others are fixed)")
    parser.add_argument("--step", type=float, default=0.15, help="start simplex step, as a share of each bound's range")
    parser.add_argument("--write", action="store_true", help="write the fitted constants into tunes.yaml")
    args = parser.parse_args()
    references = [load_reference(*item.split("=", 1)) for item in args.reference]
    objective, start, constants = objective_factory(args.target, references, args.repeat, args.seed,
                                                    args.energy_slices, args.objective, args.resolution_weight)
    free = [i for i, n in enumerate(TARGETS[args.target][2])
            if n not in args.fix and (args.free is None or n in args.free)]

    def on_free(y: np.ndarray) -> float:
        x = start.copy()
        x[free] = y
        return objective(x)

    t0 = time.process_time()
    best = [objective(start), start[free]]
    print(f"start: mean S2 {best[0]:.4f}")

    def track(y: np.ndarray) -> float:
        score = on_free(y)
        if score < best[0]:
            best[:] = [score, y.copy()]
        return score

    try:
        scipy.optimize.minimize(track, start[free], method="Nelder-Mead", bounds=[(0, 1)] * len(free),
                                options={"maxiter": args.maxiter, "xatol": 0.01, "fatol": 2e-4,
                                         "initial_simplex": _simplex(start[free], args.step)})
    except KeyboardInterrupt:  # Ctrl-C (SIGINT): stop early and keep the best point so far
        print("interrupted: keeping the best point so far")
    x = start.copy()
    x[free] = best[1]
    values = constants(x)
    print(f"done in {time.process_time() - t0:.0f} CPU s: mean S2 {best[0]:.4f}; "
          + " ".join(f"{k}={v:.4g}" for k, v in values.items()))
    if args.write:
        write_tune(args.target, {k: v for i, (k, v) in enumerate(values.items()) if i in free}, references, best[0])


def _simplex(x0: np.ndarray, step: float = 0.15) -> np.ndarray:
    """Start simplex: x0 and one step along each axis, inward from a bound."""
    points = [x0]
    for i in range(len(x0)):
        p = x0.copy()
        p[i] = p[i] + step if p[i] + step <= 1 else p[i] - step
        points.append(p)
    return np.array(points)


if __name__ == "__main__":
    main()
