"""Generation throughput of the dense Z→μμ GAN (paper 002) at batch 1 … 65536, against the Z→μμ
reference simulator on the same machine when one is registered (``zmumu``).

Timed: noise → generator → inverse transforms → numpy, i.e. what ``physgen generate`` does per
batch apart from the store write. The weights are random (throughput does not depend on them).
Paper 002: > 5000 events/s, ≈ 3600× faster than Pythia + Delphes; issue target ≥ 1 M events/s
and ≥ 5000× the reference.

    python benchmarks/bench_dense_gan.py [--device cpu|cuda] [--seconds 1.0] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import write_results  # noqa: E402

from physgen.models import DataDescription, VariableInfo, get_architecture  # noqa: E402
from physgen.specs import SpecRegistry  # noqa: E402
from physgen.train import TransformSet  # noqa: E402

BATCHES = [1, 16, 256, 1024, 4096, 16384, 65536]


def build(device: torch.device):
    spec = SpecRegistry.default().get("model", "zmumu_gan17").spec
    params = {v: [{"mean": 0.0, "std": 50.0} if t.name == "scale" else {} for t in chain]
              for v, chain in spec.data.transforms.items()}
    transforms = TransformSet(spec.data.transforms, params)
    variables = {n: VariableInfo((), (), "GeV", "float32") for n in spec.data.inputs}
    data = DataDescription(variables, list(spec.data.inputs), inverse=transforms.inverse)
    recipe = get_architecture(spec.architecture)(spec, data)
    recipe.networks.to(device).eval()
    return recipe, transforms


def rate(recipe, transforms, batch: int, device: torch.device, seconds: float) -> float:
    generator = torch.Generator(device).manual_seed(0)

    def one():
        out = transforms.inverse(recipe.sample(batch, None, generator))
        return {k: v.cpu().numpy() for k, v in out.items()}

    one()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        one()
        n += batch
    return n / (time.perf_counter() - start)


def reference_rate() -> tuple[float | None, str]:
    """Events/s of the registered ``zmumu`` reference simulator on a small run, if there is one."""
    from physgen.sim import get_simulator, simulator_names
    from physgen.store import resolve_dataset

    if "zmumu" not in simulator_names():
        return None, "no Z→μμ reference simulator is registered in this checkout (physgen.sim 'zmumu')"
    try:
        dataset = resolve_dataset("zmumu")
    except Exception as exc:  # the dataset spec may not exist yet either
        return None, f"Z→μμ reference simulator registered but its dataset spec is not loadable: {exc}"
    simulator = get_simulator("zmumu")(dataset)
    start = time.perf_counter()
    simulator.simulate(200, np.random.SeedSequence(0))
    elapsed = time.perf_counter() - start
    return 200 / elapsed, "reference: physgen.sim 'zmumu' (Pythia 8 + detector), 200 events"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    recipe, transforms = build(device)
    ref, ref_note = reference_rate()
    rows = []
    for batch in BATCHES:
        r = rate(recipe, transforms, batch, device, args.seconds)
        rows.append({"batch": batch, "events/s": f"{r:,.0f}", "× reference": f"{r / ref:,.0f}" if ref else "n/a"})
    notes = [f"device {device}; dense GAN of specs/models/zmumu_gan17.yaml (17 features, G 64-128-256-512-256-128-17)",
             ref_note + (f": {ref:,.1f} events/s" if ref else ""),
             "Targets: ≥ 1 M events/s and ≥ 5000× the reference (paper 002: ≈ 3600× Pythia + Delphes)."]
    write_results(f"dense_gan_{device.type}", rows, ["batch", "events/s", "× reference"], notes,
                  {"reference_events_per_s": ref})


if __name__ == "__main__":
    main()
