"""Training data of a generative model: one store, its first ``1 − validation_fraction`` events
streamed in shuffled batches (:mod:`physgen.train._data`), the rest held out for snapshot selection.
A store with unequal event weights (biased generation) is streamed as the sample it stands for:
events drawn ∝ weight (``data.event_weights`` in the model spec, on by default)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from physgen.errors import PhysgenError, SchemaError
from physgen.metrics import effective_sample_size, event_weights
from physgen.models import DataDescription, VariableInfo
from physgen.specs import ModelSpec, TrainingOptions
from physgen.store import normalise_url, open_store, read_provenance
from physgen.train._data import ReadCache, StreamPlan, make_loader
from physgen.train._distributed import Distributed
from physgen.train._transforms import TransformSet

__all__ = ["StoreData", "variables_info"]


def variables_info(ds, names: list[str], what: str = "the store") -> dict[str, dict[str, Any]]:
    """Shape (after ``event``), dims, dtype and units of the variables ``names`` of ``ds`` (run.json's ``variables``)."""
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        msg = f"{what} lacks the model's variables {missing}; it has {sorted(ds.data_vars)}"
        raise SchemaError(msg)
    return {n: {"shape": list(ds[n].shape[1:]), "dims": list(ds[n].dims[1:]), "dtype": str(ds[n].dtype),
                "units": ds[n].attrs.get("units", "")} for n in names}


def description(variables: dict[str, dict[str, Any]], spec: ModelSpec, transforms: TransformSet,
                reference: Any = None) -> DataDescription:
    """The :class:`DataDescription` a recipe is built from (also when rebuilt from run.json)."""
    infos = {name: VariableInfo(tuple(v["shape"]), tuple(v["dims"]), v["units"], v["dtype"])
             for name, v in variables.items()}
    data = spec.data
    return DataDescription(infos, list(data.inputs), list(data.conditions), list(data.labels),
                           inverse=transforms.inverse, encode=transforms.encode,
                           reference=reference)


class StoreData:
    """One training store for a generative recipe: batches ``dict[variable -> Tensor]``, transformed."""

    def __init__(self, spec: ModelSpec, store: str, options: TrainingOptions, dist: Distributed, num_workers: int):
        self.spec, self.dist, self.num_workers = spec, dist, num_workers
        self.url = normalise_url(store)
        self.names = spec.data.variables
        self.ds = open_store(self.url)
        self.variables = variables_info(self.ds, self.names)
        n = self.ds.sizes.get("event", 0)
        training = spec.training
        self.n_train = n - int(round(training.validation_fraction * n))
        batch = training.batch_size
        if self.n_train < batch * dist.world:
            msg = (f"store {self.url!r} has {self.n_train} training events, fewer than one batch of {batch} "
                   f"per rank × {dist.world} ranks; lower the batch size (--batch-size N) or use a larger store")
            raise PhysgenError(msg)
        self.meta = read_provenance(self.url)
        piece = StreamPlan.pieces_for(int(self.meta["chunk_events"]), self.n_train, dist.world * max(num_workers, 1),
                                      batch)
        self.plan = self._weighted(spec, StreamPlan(self.url, tuple(self.names), 0, self.n_train, piece, batch,
                                                    options.buffer_events or max(16 * batch, 65_536), training.seed,
                                                    dist.rank, dist.world))
        self.steps_per_epoch = max(self.n_train // (batch * dist.world), 1)
        self.transforms = TransformSet(spec.data.transforms)
        self.cache = ReadCache(options.read_cache_mib * 2**20) if num_workers == 0 and options.read_cache_mib else None

    def _weighted(self, spec: ModelSpec, plan: StreamPlan) -> StreamPlan:
        """``plan`` drawing events ∝ weight (the store's event-weight variable and each of its ranges' weight
        sum), when the training events carry unequal weights and the spec honours them; else ``plan``."""
        self.effective_events = float(self.n_train)
        if not spec.data.event_weights:
            return plan
        train = self.ds.isel(event=slice(0, self.n_train))
        weights = event_weights(train, f"store {self.url!r}")
        if weights is None:
            return plan
        self.effective_events = effective_sample_size(weights)
        cumulative = np.r_[0.0, np.cumsum(weights)]
        sums = tuple(float(cumulative[b] - cumulative[a]) for a, b in plan.ranges())
        return dataclasses.replace(plan, weight=train.physgen.weight_name, weight_sums=sums)

    # -- what the loop asks ------------------------------------------------------------------
    def fit(self, params: dict[str, list[dict]] | None) -> None:
        """Transform parameters: those of the run being resumed, else fitted on the training events."""
        self.transforms = TransformSet(self.spec.data.transforms, params)
        if params is None:
            self.transforms.fit(self.ds, self.n_train)

    def description(self) -> DataDescription:
        return description(self.variables, self.spec, self.transforms, self.ds.isel(event=slice(0, self.n_train)))

    def steps_for_epochs(self, epochs: int) -> int:
        """Steps of ``epochs`` nominal epochs (``n_train // (batch · world)`` each)."""
        return epochs * self.steps_per_epoch

    def batches_in_epoch(self, epoch: int) -> int:
        return self.plan.batches_per_epoch(epoch, max(self.num_workers, 1))

    def loader(self, epoch: int, skip: int, pin_memory: bool) -> Iterable[dict[str, torch.Tensor]]:
        return make_loader(self.plan, self.transforms, epoch, skip=skip, num_workers=self.num_workers,
                           pin_memory=pin_memory, cache=self.cache)

    def epoch_end(self, recipe) -> dict[str, float]:
        """Nothing to report per epoch (snapshot selection runs on its own schedule)."""
        return {}

    def info(self) -> dict[str, Any]:
        """The run.json entries describing the data."""
        return {"data_store": self.url, "store_specs": self.meta.get("specs", {}),
                "store_schema": self.meta.get("schema", {}), "chunk_events": self.meta.get("chunk_events"),
                "variables": self.variables, "transform_params": self.transforms.params(), "n_train": self.n_train,
                "event_weights": self.plan.weight, "effective_train_events": round(self.effective_events, 1)}
