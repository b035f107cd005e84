"""Training data of a classifier between two stores: reference events (label 1) against generated
events (label 0), for DCTR (paper 004) and the classifier two-sample tests.

**Inputs.** An input name is a variable of the store or, failing that, an observable computed
lazily by ``physgen.observables.compute`` (a ``DataArray`` with ``event`` first). Vector inputs
(``dctr_mlp``) are flattened and concatenated per event (the 30 layer energies of an ILD shower give
30 columns); image inputs (``dctr_cnn3d``) are one variable of three cell dims. The spec's
transforms (``log1p``…, :mod:`physgen.train._transforms`) apply per input. Small inputs are loaded
once and kept in memory; large ones (showers) are read block by block.

**Split.** Each store's events are split once into a training and a held-out part: a random subset
of ``validation_fraction`` of the events, drawn from ``SeedSequence(seed, spawn_key=(0,))``, or the
masks given as ``held_out``. The held-out events give the per-epoch validation loss and accuracy
(and the best epoch, when ``training.options.best_epoch`` asks for it) and calibrate the classifier
afterwards.

**Weights.** A store with unequal event weights (a biased sample, e.g. pT-hat-weighted QCD jets) is
read with them: every batch carries ``weight`` (each store's scaled to mean 1), the losses are weighted
means and the held-out figures weigh too, so the classifier learns the ratio of the physical
distributions the samples stand for (``p_ref/p_gen`` of the weighted densities).

**Epochs.** An epoch walks the blocks of the *larger* sample in an order drawn from ``(seed, epoch)``
and pairs each with a block of the other, cycling through it — the smaller sample is tiled to the
size of the larger, as paper 004 tiles the reference for the low-level classifier. The training
events of pair ``i`` are shuffled (and flipped along ``flip_dims`` with probability ½ per event and
dim) with ``SeedSequence(seed, spawn_key=(2, epoch, i))`` and cut into batches (the last one
partial). Rank ``r`` of ``world`` takes pairs ``r, r + world, …``. An epoch is thus a fixed function
of ``(seed, epoch)``, and a checkpoint's data position ``(epoch, batches done)`` resumes it exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr

from physgen.errors import SchemaError, SpecError
from physgen.metrics import event_weights
from physgen.metrics._samples import as_weights
from physgen.models import DataDescription
from physgen.observables import compute, observable_names
from physgen.schema import EVENT
from physgen.specs import ModelSpec
from physgen.store import normalise_url, open_store, read_provenance
from physgen.train._distributed import Distributed
from physgen.train._store_data import description
from physgen.train._transforms import TransformSet

__all__ = ["EventSource", "TwoSampleData", "held_out_mask"]

Layout = Literal["vector", "image"]
LABELS = {"reference": 1.0, "generated": 0.0}


def _unit_mean(weights: np.ndarray | None) -> np.ndarray | None:
    """Event weights scaled to mean 1 over the store (float32, as the batches carry them), so the plain-mean
    loss keeps the two samples' relative sizes; None stays None."""
    return None if weights is None else (weights / weights.mean()).astype(np.float32)


def _resolve(ds: xr.Dataset, names: Sequence[str], label: str) -> list[xr.DataArray]:
    """Store variables by name; other names are computed as observables (lazily)."""
    found = {n: ds[n] for n in names if n in ds.data_vars}
    missing = [n for n in names if n not in found]
    unknown = [n for n in missing if n not in observable_names(ds)]
    if unknown:
        msg = (f"inputs {unknown} are neither variables of the {label} store (it has {sorted(map(str, ds.data_vars))}) "
               f"nor observables computable from it ({', '.join(observable_names(ds)) or 'none'})")
        raise SchemaError(msg)
    if missing:
        computed = compute(ds, missing)
        found |= {n: computed[n] for n in missing}
    arrays = [found[n] for n in names]
    for name, array in zip(names, arrays, strict=True):
        if not array.dims or array.dims[0] != EVENT or not np.issubdtype(array.dtype, np.number):
            msg = f"input {name!r} of the {label} store must be numeric with dims (event, ...), got {array.dims} {array.dtype}"
            raise SchemaError(msg)
    return arrays


class EventSource:
    """The classifier inputs of one store as float32 blocks ``read(start, stop)`` of events."""

    def __init__(self, ds: xr.Dataset, names: Sequence[str], *, layout: Layout, label: str = "",
                 cache_bytes: int = 512 * 2**20):
        self.names = list(names)
        self.label = label
        self.arrays = _resolve(ds, self.names, label)
        self.transforms = TransformSet({})
        self.n_events = int(ds.sizes.get(EVENT, 0))
        if layout == "image":
            if len(self.arrays) != 1 or self.arrays[0].ndim != 4:
                shapes = {n: a.dims for n, a in zip(self.names, self.arrays, strict=True)}
                msg = f"an image classifier needs one input variable with dims (event, z, y, x); got {shapes}"
                raise SpecError(msg)
            self.shape = tuple(self.arrays[0].shape[1:])
            self.dims = tuple(map(str, self.arrays[0].dims[1:]))
        else:
            self.shape = (sum(int(np.prod(a.shape[1:], dtype=np.int64)) for a in self.arrays),)
            self.dims = ("feature",)
        self.layout = layout
        self.cache_bytes = cache_bytes
        self._cache: np.ndarray | None = None

    @property
    def dataset(self) -> xr.Dataset:
        """The inputs as one lazy dataset (for fitting transforms)."""
        return xr.Dataset({n: a.variable for n, a in zip(self.names, self.arrays, strict=True)})

    def variables(self) -> dict[str, dict[str, Any]]:
        """Shape, dims, dtype and units of every input (run.json's ``variables``)."""
        return {n: {"shape": list(a.shape[1:]), "dims": list(map(str, a.dims[1:])), "dtype": "float32",
                    "units": a.attrs.get("units", "")} for n, a in zip(self.names, self.arrays, strict=True)}

    def signature(self) -> dict[str, tuple]:
        """Dims, per-event shape and units of every input (must agree between the two stores)."""
        return {n: (a.dims, a.shape[1:], a.attrs.get("units")) for n, a in zip(self.names, self.arrays, strict=True)}

    def set_transforms(self, transforms: TransformSet) -> None:
        self.transforms = transforms
        per_event = int(np.prod(self.shape, dtype=np.int64)) * 4
        self._cache = self._load(0, self.n_events) if self.n_events * per_event <= self.cache_bytes else None

    def read(self, start: int, stop: int) -> np.ndarray:
        if self._cache is not None:
            return self._cache[start:stop]
        return self._load(start, stop)

    def _load(self, start: int, stop: int) -> np.ndarray:
        parts = []
        for name, array in zip(self.names, self.arrays, strict=True):
            values = np.asarray(array.isel({EVENT: slice(start, stop)}).values, dtype=np.float32)
            values = self.transforms.forward({name: values}, None)[name]
            parts.append(values if self.layout == "image" else values.reshape(stop - start, -1))
        out = parts[0] if self.layout == "image" else np.concatenate(parts, axis=1)
        if not np.all(np.isfinite(out)):
            msg = f"inputs {self.names} of the {self.label} store hold NaN or inf in events [{start}, {stop})"
            raise SchemaError(msg)
        return out.astype(np.float32, copy=False)


def held_out_mask(n_events: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random boolean mask of round(fraction·n) held-out events (at least one of each part)."""
    n_held = min(max(int(round(fraction * n_events)), 1), n_events - 1)
    mask = np.zeros(n_events, dtype=bool)
    mask[rng.choice(n_events, n_held, replace=False)] = True
    return mask


def _blocks(n_events: int, block: int) -> list[tuple[int, int]]:
    return [(start, min(start + block, n_events)) for start in range(0, n_events, block)]


def _check_compatible(reference: EventSource, generated: EventSource) -> None:
    """Both stores must give the classifier inputs of identical dims, shapes and units."""
    ref, gen = reference.signature(), generated.signature()
    differing = [f"{n}: reference {ref[n]} vs generated {gen[n]}" for n in ref if ref[n] != gen[n]]
    if differing:
        msg = "the two stores have different schemas for the classifier inputs: " + "; ".join(differing)
        raise SchemaError(msg)
    for source in (reference, generated):
        if source.n_events < 10:
            msg = f"the {source.label} store has {source.n_events} events; a classifier needs at least 10"
            raise SchemaError(msg)


class TwoSampleData:
    """Labelled batches ``{"inputs", "label"}`` from a reference and a generated store (see the module docstring).

    ``options``: the classifier's ``training.options`` (``flip_dims``, ``block_events``, ``cache_mb``).
    ``weights``: event weights ``{"reference": ..., "generated": ...}`` (an array or None each) for in-memory
    datasets, which carry no feature schema to name theirs; a store's own weights are read from it.
    """

    def __init__(self, spec: ModelSpec, reference: str | xr.Dataset, generated: str | xr.Dataset, options: Any,
                 dist: Distributed, *, layout: Layout, held_out: dict[str, np.ndarray] | None = None,
                 weights: dict[str, np.ndarray | None] | None = None):
        self.spec, self.dist, self.layout = spec, dist, layout
        training = spec.training
        if training.validation_fraction <= 0:
            msg = "training.validation_fraction must be > 0: held-out events validate and calibrate the classifier"
            raise SpecError(msg)
        stores = {"reference": reference, "generated": generated}
        self.urls = {k: normalise_url(v) if not isinstance(v, xr.Dataset) else None for k, v in stores.items()}
        datasets = {k: v if isinstance(v, xr.Dataset) else open_store(self.urls[k]) for k, v in stores.items()}
        self.event_weights = {k: _unit_mean(self._given_weights(weights, k, ds) if weights and weights.get(k) is not None
                                            else event_weights(ds, f"the {k} store")) for k, ds in datasets.items()}
        self.sources = {k: EventSource(ds, spec.data.inputs, layout=layout, label=k,
                                       cache_bytes=options.cache_mb * 2**20) for k, ds in datasets.items()}
        _check_compatible(self.sources["reference"], self.sources["generated"])
        self.flip_axes = self._flip_axes(options.flip_dims)
        chunks = [int(ds.attrs["physgen"]["chunk_events"]) for ds in datasets.values() if "physgen" in ds.attrs]
        self.block = options.block_events or (min(chunks) if chunks else 4096)
        self.batch_size, self.seed = training.batch_size, training.seed
        split = np.random.default_rng(np.random.SeedSequence(training.seed, spawn_key=(0,)))
        self.held_out = {k: held_out_mask(s.n_events, training.validation_fraction, split)
                         for k, s in self.sources.items()} if held_out is None else self._checked(held_out)
        self.blocks = {k: _blocks(s.n_events, self.block) for k, s in self.sources.items()}
        self.n_pairs = max(len(b) for b in self.blocks.values())
        self.n_train = sum(int((~m).sum()) for m in self.held_out.values())
        self.transforms = TransformSet(spec.data.transforms)
        self.steps_per_epoch = max(self.batches_in_epoch(0), 1)

    @staticmethod
    def _given_weights(weights: dict[str, np.ndarray | None], key: str, ds: xr.Dataset) -> np.ndarray:
        if "physgen" in ds.attrs:
            msg = f"weights[{key!r}] are for in-memory datasets; a store's event weights are its own weight feature"
            raise SpecError(msg)
        return as_weights(weights[key], np.zeros(ds.sizes[EVENT]), f"the {key} event weights")

    def _checked(self, held_out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        masks = {k: np.asarray(held_out[k], dtype=bool) for k in self.sources}
        for key, mask in masks.items():
            if mask.shape != (self.sources[key].n_events,) or mask.all() or not mask.any():
                msg = f"held_out[{key!r}] must mark some but not all of the {self.sources[key].n_events} events"
                raise SpecError(msg)
        return masks

    def _flip_axes(self, dims: list[str]) -> tuple[int, ...]:
        source = self.sources["generated"]
        unknown = [d for d in dims if d not in source.dims]
        if unknown:
            msg = f"training.options.flip_dims {unknown} are not dims of the input (it has {list(source.dims)})"
            raise SpecError(msg)
        return tuple(source.dims.index(d) for d in dims)

    # -- the epoch plan --------------------------------------------------------------------
    def _pairs(self, epoch: int, rank: int | None = None) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
        """The (pair index, reference block, generated block) of ``epoch`` for ``rank`` (default: this one)."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(1, epoch)))
        order = {k: rng.permutation(len(b)) for k, b in self.blocks.items()}
        pick = {k: [self.blocks[k][order[k][i % len(order[k])]] for i in range(self.n_pairs)] for k in self.blocks}
        pairs = [(i, pick["reference"][i], pick["generated"][i]) for i in range(self.n_pairs)]
        return pairs[self.dist.rank if rank is None else rank::self.dist.world]

    def _train_events(self, key: str, block: tuple[int, int]) -> int:
        return int((~self.held_out[key][block[0]:block[1]]).sum())

    def batches_in_epoch(self, epoch: int, rank: int | None = None) -> int:
        size = self.batch_size
        return sum(-(-(self._train_events("reference", r) + self._train_events("generated", g)) // size)
                   for _, r, g in self._pairs(epoch, rank))

    def steps_for_epochs(self, epochs: int) -> int:
        """Exactly ``epochs`` full epochs (of the rank with the most batches: every rank takes as many steps)."""
        return max(sum(self.batches_in_epoch(e, rank) for e in range(epochs)) for rank in range(self.dist.world))

    def _flip(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for axis in self.flip_axes:
            chosen = rng.random(len(x)) < 0.5
            x[chosen] = np.flip(x[chosen], axis=axis + 1)
        return x

    def loader(self, epoch: int, skip: int, pin_memory: bool = False) -> Iterator[dict[str, torch.Tensor]]:
        """The batches of ``epoch`` after the first ``skip``."""
        done = 0
        for i, ref_block, gen_block in self._pairs(epoch):
            n = self._train_events("reference", ref_block) + self._train_events("generated", gen_block)
            n_batches = -(-n // self.batch_size)
            if done + n_batches <= skip:  # replayed without reading
                done += n_batches
                continue
            xs, ys, ws = [], [], []
            for key, (start, stop) in (("reference", ref_block), ("generated", gen_block)):
                train = ~self.held_out[key][start:stop]
                x = self.sources[key].read(start, stop)[train]
                xs.append(x)
                ys.append(np.full(len(x), LABELS[key], dtype=np.float32))
                if self.weighted:
                    ws.append(self._weights(key, start, stop)[train])
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(2, epoch, i)))
            perm = rng.permutation(n)
            x, y = np.concatenate(xs)[perm], np.concatenate(ys)[perm]
            w = np.concatenate(ws)[perm] if ws else None
            if self.flip_axes:
                x = self._flip(x, rng)
            for j in range(n_batches):
                if done >= skip:
                    part = slice(j * self.batch_size, (j + 1) * self.batch_size)
                    batch = {"inputs": torch.from_numpy(np.ascontiguousarray(x[part])), "label": torch.from_numpy(y[part])}
                    if w is not None:
                        batch["weight"] = torch.from_numpy(w[part])
                    yield batch
                done += 1

    # -- what the loop and the recipe ask --------------------------------------------------------
    def fit(self, params: dict[str, list[dict]] | None) -> None:
        """Transform parameters: those of the run being resumed, else fitted on the reference's inputs."""
        self.transforms = TransformSet(self.spec.data.transforms, params)
        if params is None:
            source = self.sources["reference"]
            self.transforms.fit(source.dataset, source.n_events)
        for source in self.sources.values():
            source.set_transforms(self.transforms)

    def description(self) -> DataDescription:
        return description(self.sources["generated"].variables(), self.spec, self.transforms)

    def input_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation per input column over the training events of both samples."""
        total, total_sq, count = 0.0, 0.0, 0
        for key, source in self.sources.items():
            for start, stop in self.blocks[key]:
                x = source.read(start, stop)[~self.held_out[key][start:stop]].astype(np.float64)
                x = x.reshape(len(x), -1)
                total, total_sq, count = total + x.sum(0), total_sq + (x**2).sum(0), count + len(x)
        mean = total / count
        return mean, np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))

    @torch.no_grad()
    def logits(self, recipe, key: str, *, held_out: bool | None = None, batch_size: int = 1024,
               advance: Callable[[int], None] | None = None) -> np.ndarray:
        """Logits of the events of store ``key`` (all, or only the held-out/training ones), block by block;
        ``advance(n)`` is called with the events of every block read (for a progress bar)."""
        network = recipe.networks["classifier"]
        device = next(network.parameters()).device
        was_training = network.training
        network.eval()
        out = []
        source, mask = self.sources[key], self.held_out[key]
        for start, stop in self.blocks[key]:
            x = source.read(start, stop)
            if held_out is not None:
                x = x[mask[start:stop] == held_out]
            for i in range(0, len(x), batch_size):
                out.append(network(torch.as_tensor(x[i:i + batch_size], device=device)).double().cpu().numpy())
            if advance is not None:
                advance(stop - start)
        network.train(was_training)
        return np.concatenate(out) if out else np.zeros(0)

    @property
    def weighted(self) -> bool:
        """Whether either store carries unequal event weights (batches then carry ``weight``)."""
        return any(w is not None for w in self.event_weights.values())

    def _weights(self, key: str, start: int, stop: int) -> np.ndarray:
        """The event weights of events ``start:stop`` of store ``key`` (mean 1 over the store; 1 if unweighted)."""
        w = self.event_weights[key]
        return np.ones(stop - start, dtype=np.float32) if w is None else w[start:stop]

    def held_out_logits(self, recipe, advance: Callable[[int], None] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Logits, labels (1 reference, 0 generated) and event weights (None when neither store is weighted)
        of the held-out events of both samples (``advance``: as in :meth:`logits`, every event of both
        stores is read)."""
        ref, gen = (self.logits(recipe, k, held_out=True, advance=advance) for k in ("reference", "generated"))
        weights = None
        if self.weighted:
            weights = np.concatenate([self._weights(k, 0, s.n_events)[self.held_out[k]]
                                      for k, s in self.sources.items()]).astype(np.float64)
        return np.concatenate([ref, gen]), np.concatenate([np.ones(len(ref)), np.zeros(len(gen))]), weights

    def epoch_end(self, recipe) -> dict[str, float]:
        """The held-out loss (the recipe's: class balanced for DCTR) and accuracy, logged after every epoch."""
        if not self.dist.main:
            return {}
        logits, labels, weights = self.held_out_logits(recipe)
        return {"held_out_nll": recipe.validation_loss(logits, labels, weights),
                "held_out_accuracy": float(np.average((logits > 0) == (labels > 0.5), weights=weights))}

    def info(self) -> dict[str, Any]:
        """The run.json entries describing the data."""
        specs = {}
        for key in ("reference", "generated"):
            url = self.urls[key]
            specs[key] = read_provenance(url).get("specs", {}) if url else {}
        return {"data_store": self.urls, "store_specs": specs["generated"], "reference_specs": specs["reference"],
                "variables": self.sources["generated"].variables(), "transform_params": self.transforms.params(),
                "n_train": self.n_train, "held_out_events": {k: int(m.sum()) for k, m in self.held_out.items()},
                "event_weights": {k: w is not None for k, w in self.event_weights.items()},
                "block_events": self.block}
