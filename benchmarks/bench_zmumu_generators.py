"""Generation cost of the two compact Z→μμ generators of the model zoo, timed in one run: the dense GAN
(``zmumu_gan17_compact``, one generator pass per event) and the flow-matching generator
(``zmumu_fm17_compact``, ``ode_steps`` × solver stages velocity passes per event), with the flow also at
other step counts.

Timed: noise → network(s) → inverse transforms → numpy, what ``physgen generate`` does per batch apart
from the store write, at its default batch of 10 000 events, under ``torch.inference_mode``, in float32 and
with bf16 autocast, on one torch thread (the quality runs' setting). The weights are random (the cost does
not depend on them); the rates are per CPU second of this process.

    python benchmarks/bench_zmumu_generators.py [--seconds 2] [--batch 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import write_results  # noqa: E402

from physgen.models import DataDescription, VariableInfo, get_architecture  # noqa: E402
from physgen.specs import SpecRegistry  # noqa: E402
from physgen.train import TransformSet  # noqa: E402
from bench_dense_gan import precision_context  # noqa: E402


def build(name: str, hyperparameters: dict | None = None):
    """The recipe of model spec ``name`` with random weights and plausible transform parameters."""
    spec = SpecRegistry.default().get("model", name).spec
    if hyperparameters:
        spec = spec.model_copy(update={"hyperparameters": spec.hyperparameters | hyperparameters})
    params = {v: [{"mean": 0.0, "std": 50.0} if t.name == "scale" else {} for t in chain]
              for v, chain in spec.data.transforms.items()}
    transforms = TransformSet(spec.data.transforms, params)
    variables = {n: VariableInfo((), (), "GeV", "float32") for n in spec.data.inputs}
    data = DataDescription(variables, list(spec.data.inputs), inverse=transforms.inverse, encode=transforms.encode)
    torch.manual_seed(0)
    recipe = get_architecture(spec.architecture)(spec, data)
    if getattr(recipe, "coordinates", None):  # the flow's muon coordinates: moments of the quality_zmumu reference
        moments = [[4.485, 2.633, 0.010, 0.0, 0.0], [0.137, 1.06, 1.09, 0.78, 0.94]]
        recipe.load_extra_state({"coordinate_moments": moments})
    recipe.networks.eval()
    return recipe, transforms


def flop_per_pass(network: torch.nn.Module) -> int:
    return 2 * sum(m.in_features * m.out_features for m in network.modules() if isinstance(m, torch.nn.Linear))


def cpu_rate(recipe, transforms, batch: int, seconds: float, precision: str) -> float:
    """Generated events per CPU second at ``batch``."""
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode(), precision_context(precision, torch.device("cpu")):
        transforms.inverse(recipe.sample(batch, None, generator))
        n, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            out = transforms.inverse(recipe.sample(batch, None, generator))
            _ = {k: v.float().numpy() for k, v in out.items()}
            n += batch
        return n / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [("zmumu_gan17_compact", None, "dense GAN (1 generator pass)"),
             ("zmumu_fm17_compact", None, "flow matching, the spec's 20 midpoint steps (40 passes)"),
             ("zmumu_fm17_compact", {"ode_steps": 10}, "flow matching, 10 midpoint steps (20 passes)"),
             ("zmumu_fm17_compact", {"ode_solver": "euler", "ode_steps": 20}, "flow matching, 20 Euler steps "
              "(20 passes)")]
    rows, results = [], {}
    for name, hp, label in cases:
        recipe, transforms = build(name, hp)
        network = recipe.networks["generator"]
        passes = (recipe.hp.ode_steps * {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}[recipe.hp.ode_solver]
                  if recipe.architecture == "flow_matching" else 1)
        rates = {p: cpu_rate(recipe, transforms, args.batch, args.seconds, p) for p in ("fp32", "bf16")}
        mflop = flop_per_pass(network) * passes / 1e6
        results[label] = {"model": name, "hyperparameters": hp, "passes": passes, "mflop_per_event": mflop,
                          "parameters": sum(p.numel() for p in network.parameters())} | rates
        rows.append({"generator": label, "model": f"`{name}`", "weights": f"{results[label]['parameters']:,}",
                     "MFLOP/event": f"{mflop:.2f}", "fp32 events/CPU-s": f"{rates['fp32']:,.0f}",
                     "bf16 events/CPU-s": f"{rates['bf16']:,.0f}"})
    gan = results[cases[0][2]]["fp32"]
    for row, (_, _, label) in zip(rows, cases, strict=True):
        row["fp32 ÷ GAN"] = f"{results[label]['fp32'] / gan:.3f}"
    notes = [f"batch {args.batch} (physgen generate's default), one torch thread, random weights, "
             "noise → network → inverse transforms → numpy under torch.inference_mode; bf16 = torch.autocast.",
             "The flow's cost per event is its velocity network's cost times the solver's passes (the fixed-step "
             "ODE of physgen.models.flow_matching); the GAN's one generator pass."]
    write_results("zmumu_generators", rows, list(rows[0]), notes, {"results": results})


if __name__ == "__main__":
    main()
