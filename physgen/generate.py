"""Trained model → store with the training store's schema (``physgen generate``).

The output store has the variables, dims, units and coordinates of the training store
(rebuilt from the spec texts kept in the run directory), restricted to the variables the
model reads — its generated ``inputs`` plus its ``conditions``/``labels`` — and the dataset
spec's other conditions (e.g. the fixed impact point of ``calogan_eplus``, which a model
conditioned on the energy alone does not read but which describes its events as well).
Conditions are copied from a reference store (``conditions_from``) or drawn from the dataset
spec's distributions. Variables a model reads but does not generate (CaloGAN's ``overflow``)
are the recipe's business: its ``sample`` returns every input (see :mod:`physgen.models.calogan`).
Events are generated in batches of the store's chunk size, batch ``i`` with
``SeedSequence(seed, spawn_key=(i,))``, each batch one atomic append, so an interrupted run
resumes from the committed count and gives the same store as an uninterrupted one; the run
holds the output store's writer lock.
Generated values are clipped to each feature's ``valid_range`` (a GAN may put a few
events at, e.g., negative isolation). Other variables of the training schema are written too where
an observable of the same name recomputes them from the generated cells (a jet-image store's
``jet_pt``, ``jet_mass``, ``tau_1``, ``tau_2``, ``tau_21`` from the generated ``image``); the
provenance lists them under ``derived_variables``.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch
import xarray as xr
import yaml

from physgen.errors import PhysgenError, SchemaError, StoreError, check_seed
from physgen.progress import event_progress
from physgen.observables import compute, get_observable, observable_names
from physgen.schema import EVENT, StoreSchema, within_valid_range
from physgen.sim import chunk_plan
from physgen.specs import LoadedSpec, parse_spec
from physgen.provenance import file_sha256
from physgen.store import ResolvedDataset, create_store, normalise_url, open_store, store_lock
from physgen.train import select_device
from physgen.units import ureg
from physgen.zoo import load_generator

__all__ = ["derived_variables", "generate", "run_schema"]


def _resolved(store_specs: dict[str, dict[str, str]]) -> ResolvedDataset:
    loaded = {role: LoadedSpec(parse_spec(yaml.safe_load(s["text"]), source=f"run.json ({role})", plugins=False),
                               s["text"], role) for role, s in store_specs.items()}
    return ResolvedDataset(loaded["dataset"], loaded.get("detector"), loaded.get("features"))


def run_schema(info: dict) -> tuple[ResolvedDataset, StoreSchema]:
    """The training store's dataset and the schema of the generated store: the variables the model reads,
    the dataset's conditions, and every other variable of the training schema that an observable of the
    same name recomputes from those (see :func:`derived_variables`)."""
    dataset = _resolved(info["store_specs"])
    keep = set(info["variables"]) | (set(dataset.spec.conditions) & set(dataset.schema.names))
    missing = keep - set(dataset.schema.names)
    if missing:
        msg = f"the run's variables {sorted(missing)} are not in the training store's schema {dataset.schema.names}"
        raise SchemaError(msg)
    keep |= set(derived_variables(dataset.schema, keep))
    schema = StoreSchema(tuple(v for v in dataset.schema.variables if v.name in keep), dataset.schema.coords)
    return dataset, schema


def _as_dataset(batch: dict[str, np.ndarray], schema: StoreSchema) -> xr.Dataset:
    """Events of ``batch`` as the xarray Dataset a reader of the store would see (dims, coords, units)."""
    variables = [v for v in schema.variables if v.name in batch]
    dims = {d for v in variables for d in v.dims}
    coords = {d: xr.Variable((d,), values, attrs) for d, (values, attrs) in schema.coords.items() if d in dims}
    return xr.Dataset({v.name: xr.Variable((EVENT, *v.dims), batch[v.name], v.attrs) for v in variables},
                      coords=coords)


def derived_variables(schema: StoreSchema, produced: set[str]) -> list[str]:
    """Variables of ``schema`` not in ``produced`` that the observable of the same name computes from the
    ``produced`` ones, with the variable's dims and units — e.g. ``jet_pt``, ``jet_mass``, ``tau_21`` of a
    jet-image store from a generated ``image``. The generated store then has them as a reader of the
    reference computes them from its cells; variables nothing can recompute (``jet_eta``, ``weight``) are
    left out, and ``physgen evaluate`` skips them with a note."""
    empty = _as_dataset({v.name: np.zeros((0, *v.shape), v.dtype) for v in schema.variables if v.name in produced},
                        schema)
    computable = set(observable_names(empty))
    derived = []
    for var in schema.variables:
        if var.name in produced or var.name not in computable:
            continue
        impl = get_observable(var.name, empty)
        if not impl.per_event:
            continue
        out = impl(empty)
        if out.dims == (EVENT, *var.dims) and ureg.Unit(out.attrs["units"] or "dimensionless") == ureg.Unit(
                var.units or "dimensionless"):
            derived.append(var.name)
    return derived


def generate(run_dir: str | os.PathLike[str], events: int, out: str | os.PathLike[str], *,
             conditions_from: str | os.PathLike[str] | None = None, seed: int = 0, mode: str = "create",
             checkpoint: str = "best", device: str = "auto", batch_size: int | None = None,
             bf16: bool = False, compression: str | None = None, progress: bool = True, lock: bool = True) -> str:
    """Generate ``events`` events with the model of ``run_dir`` into the store ``out``; return its URL.

    ``run_dir``: a training run directory, a shipped-checkpoint file, or the name of a shipped model
    (:mod:`physgen.zoo`; the store's provenance then names it, its sha256, reference and quality).

    ``bf16``: run the networks under bfloat16 autocast (about 3× faster on CPUs with AVX-512 BF16, see
    benchmarks/results/dense_gan_cpu.md; outputs differ from float32 at the per-mille level).
    ``compression``: the store's codec (:data:`physgen.store.COMPRESSIONS`; default the training dataset
    spec's, e.g. ``none`` for a store that the loader reads at in-memory speed).
    ``lock=False`` skips the output store's writer lock (``--no-lock``).
    """
    if events <= 0:
        msg = f"--events must be positive, got {events}"
        raise PhysgenError(msg)
    check_seed(seed)
    torch_device = select_device(device)
    run = load_generator(run_dir, checkpoint=checkpoint, device=torch_device)
    dataset, schema = run_schema(run.info)
    data = run.spec.data
    conditioning = data.conditions + data.labels
    reference = None
    if conditioning:
        if conditions_from is not None:
            reference = open_store(conditions_from)
            lacking = [c for c in conditioning if c not in reference]
            if lacking or reference.sizes["event"] < events:
                msg = (f"--conditions-from {conditions_from!r} must hold {conditioning} for {events} events; "
                       f"it lacks {lacking} and has {reference.sizes['event']} events")
                raise StoreError(msg)
        else:
            lacking = [c for c in conditioning if c not in dataset.spec.conditions]
            if lacking:
                msg = (f"the model needs conditions {lacking}, which the dataset spec "
                       f"{dataset.spec.name!r} does not define; pass --conditions-from STORE")
                raise PhysgenError(msg)
    passthrough = [c for c in dataset.spec.conditions if c in schema.names and c not in conditioning + data.inputs]
    derived = derived_variables(schema, set(data.inputs + conditioning + passthrough))
    batch = batch_size or int(run.info.get("chunk_events") or 10_000)
    sha = file_sha256(run.checkpoint)
    provenance = {
        "specs": dataset.spec_texts() | {"model": run.info["model_spec"]},
        "producer": {"kind": "model", "name": run.spec.name, "architecture": run.spec.architecture,
                     "run_dir": os.path.abspath(run_dir), "checkpoint": str(run.checkpoint),
                     "checkpoint_sha256": sha, "torch_version": torch.__version__,
                     "conditions_from": normalise_url(conditions_from) if conditions_from else None}
                    | ({"kind": "shipped_model", "run_dir": None, "shipped": run.info["shipped"]}
                       if "shipped" in run.info else {}),
        "seed": seed, "requested_events": events, "generation_batch": batch,
        "precision": "bf16" if bf16 else "float32",
        "derived_variables": {name: f"observable {name!r} of the generated events" for name in derived},
    }
    url = normalise_url(out)
    with store_lock(url, enabled=lock):
        writer = create_store(url, schema, chunk_events=batch, provenance=provenance, mode=mode,
                              compression=compression or dataset.spec.compression,
                              consistent=("generation_batch", "producer.checkpoint_sha256", "precision"))
        done = writer.committed_events
        precision = torch.autocast(torch_device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with event_progress(f"generate {run.spec.name}", total=events, completed=min(done, events),
                            enabled=progress) as advance:
            for i, n in chunk_plan(events, batch, first=done // batch):
                seq = np.random.SeedSequence(seed, spawn_key=(i,))
                torch_seed, numpy_seed = seq.generate_state(2, dtype=np.uint64)
                drawn = dataset.spec.sample_conditions(np.random.default_rng(int(numpy_seed)), n)
                copied = [] if reference is None else [c for c in conditioning + passthrough if c in reference]
                raw = {c: reference[c].isel(event=slice(i * batch, i * batch + n)).values for c in copied}
                raw |= {c: drawn[c] for c in conditioning + passthrough if c not in raw}
                cond = {k: torch.from_numpy(v).to(torch_device)
                        for k, v in run.transforms.forward({c: raw[c] for c in conditioning}, None).items()} or None
                generator = torch.Generator(torch_device).manual_seed(int(torch_seed) & (2**63 - 1))
                with torch.inference_mode(), precision:
                    fake = run.transforms.inverse(run.recipe.sample(n, cond, generator))
                out_batch = {k: v.float().cpu().numpy() for k, v in fake.items()} | raw
                out_batch = {k: within_valid_range(out_batch[k], schema[k].valid_range).astype(schema[k].dtype)
                             for k in out_batch if k in schema.names}
                if derived:
                    values = compute(_as_dataset(out_batch, schema), derived)
                    out_batch |= {k: np.asarray(values[k].values, dtype=schema[k].dtype) for k in derived}
                writer.append(out_batch)
                advance(n)
    return url
