"""The model interface of physgen: an architecture registry and the *recipe* contract.

An **architecture** is a plain :class:`torch.nn.Module` whose constructor takes sizes.
A **recipe** (one class per registered architecture name) turns a :class:`ModelSpec` and a
:class:`DataDescription` into networks, optimisers, one training step and a sampler.
The training loop (:mod:`physgen.train`) and :mod:`physgen.generate` only talk to recipes
through the small interface below, so a new model (LAGAN, CaloGAN, ...) is one module::

    @register_architecture("my_gan")
    class MyGAN(Recipe):
        def __init__(self, spec, data):
            super().__init__(spec, data)
            self.networks = nn.ModuleDict({"generator": ..., "discriminator": ...})
        def training_step(self, batch, step):
            ...
            self.optimizer_step("discriminator", d_loss)
            ...
            return {"d_loss": float(d_loss), "g_loss": float(g_loss)}
        def sample(self, n, conditions, generator):
            return {"image": ...}   # variables in the *transformed* (training) space

Batches are ``dict[variable name -> Tensor]`` with ``event`` first, already transformed
(log, standardised, smeared) and on the training device. :meth:`Recipe.sample` returns
the model's ``data.inputs`` in the same transformed space; :mod:`physgen.generate` applies
the inverse transforms. Everything a recipe needs to persist beyond its networks (e.g.
target values computed from the reference store) goes through :meth:`Recipe.extra_state`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from physgen.errors import SpecError
from physgen.plugins import ARCHITECTURES
from physgen.specs import ModelSpec, NoOptions, OptimizerSpec, TrainingOptions, parse_plugin_options

__all__ = ["Recipe", "DataDescription", "VariableInfo", "register_architecture", "get_architecture",
           "architecture_names", "build_optimizer", "mlp"]


def register_architecture(name: str) -> Callable[[type[Recipe]], type[Recipe]]:
    """Class decorator: make a :class:`Recipe` available under ``architecture: name`` in model specs
    (:data:`physgen.plugins.ARCHITECTURES`)."""

    def decorate(cls: type[Recipe]) -> type[Recipe]:
        ARCHITECTURES.register(name, cls)
        cls.architecture = name
        return cls

    return decorate


def get_architecture(name: str) -> type[Recipe]:
    return ARCHITECTURES.get(name)


def architecture_names() -> list[str]:
    return ARCHITECTURES.names()


@dataclass(frozen=True)
class VariableInfo:
    """Shape (after ``event``), dims and units of one store variable a model reads or writes."""

    shape: tuple[int, ...]
    dims: tuple[str, ...]
    units: str
    dtype: str

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class DataDescription:
    """What a recipe knows about its data: roles, shapes and units, transforms, the reference store.

    ``inverse(batch)`` maps transformed tensors back to physical units differentiably where the
    transform allows (``log``, ``scale``); recipes use it for physics constraints (e.g. M_ll);
    ``encode(batch)`` applies the forward transforms to torch tensors (a physical quantity a recipe
    computed, put back into the network's space).
    ``reference`` is the lazily opened training store (``None`` when rebuilding for generation).
    """

    variables: dict[str, VariableInfo]
    inputs: list[str]
    conditions: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    inverse: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] = lambda batch: batch
    encode: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] = lambda batch: batch
    reference: Any = None

    def width(self, names: list[str]) -> int:
        """Number of numbers per event of ``names`` flattened side by side."""
        return sum(self.variables[n].size for n in names)

    def concat(self, batch: dict[str, torch.Tensor], names: list[str]) -> torch.Tensor:
        """``(events, width)`` tensor of the variables ``names`` of ``batch``, flattened and side by side."""
        return torch.cat([batch[n].reshape(len(batch[n]), -1) for n in names], dim=1)

    def split(self, flat: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
        """Inverse of :meth:`concat`."""
        parts = torch.split(flat, [self.variables[n].size for n in names], dim=1)
        return {n: p.reshape(len(flat), *self.variables[n].shape) for n, p in zip(names, parts, strict=True)}


def build_optimizer(params, spec: OptimizerSpec) -> torch.optim.Optimizer:
    """A torch optimiser from an :class:`OptimizerSpec` (name, lr, betas, weight decay)."""
    kwargs: dict[str, Any] = {"lr": spec.lr, "weight_decay": spec.weight_decay}
    if spec.betas is not None:
        if spec.name not in ("adam", "adamw"):
            msg = f"optimizer {spec.name!r} takes no 'betas' (only adam/adamw do)"
            raise SpecError(msg)
        kwargs["betas"] = spec.betas
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adadelta": torch.optim.Adadelta,
           "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}[spec.name]
    return cls(params, **kwargs)


def mlp(sizes: list[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    """Fully connected layers ``sizes[0] → … → sizes[-1]`` with ``activation`` between (linear output)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Recipe:
    """How to build, train and sample one architecture (subclass and register with a name).

    Subclasses declare their ``hyperparameters`` as a pydantic model (:attr:`Hyperparameters`,
    defaults included; checked when the model spec loads), set ``self.networks`` (an
    :class:`nn.ModuleDict` of the networks :attr:`network_names` lists) in ``__init__`` and
    implement :meth:`training_step` and :meth:`sample`. The loop moves networks to the device,
    calls :meth:`configure_optimizers` once, and restores checkpoints through
    :meth:`state_dict`/:meth:`load_state_dict`.
    """

    architecture: ClassVar[str] = ""
    Hyperparameters: ClassVar[type[BaseModel]] = NoOptions
    """The ``hyperparameters`` of a model spec of this architecture."""
    TrainingOptions: ClassVar[type[TrainingOptions]] = TrainingOptions
    """The ``training.options`` of a model spec of this architecture (the loop's, or more)."""
    network_names: ClassVar[tuple[str, ...]] = ()
    """Names of :attr:`networks` (the keys ``training.optimizers`` may use)."""

    def __init__(self, spec: ModelSpec, data: DataDescription):
        self.spec = spec
        self.data = data
        self.hp = parse_plugin_options(self.Hyperparameters, spec.hyperparameters, source=f"model {spec.name!r}",
                                       loc=("hyperparameters",))
        self.networks = nn.ModuleDict()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.grad_sync: Callable[[nn.Module], None] = lambda module: None
        """Set by the loop under torch.distributed: averages a network's gradients over ranks."""
        self.state_sync: Callable[[nn.Module], None] = lambda module: None
        """Set by the loop under torch.distributed: gives every rank rank 0's weights and buffers (after a
        recipe sets them from its own data, e.g. a standardisation fitted on the first batch)."""

    # -- the contract ------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        """One optimisation step on ``batch``; return the losses (and anything else) to log."""
        raise NotImplementedError

    def sample(self, n: int, conditions: dict[str, torch.Tensor] | None,
               generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        """``n`` generated events of ``data.inputs`` (transformed space), given transformed conditions."""
        raise NotImplementedError

    # -- defaults subclasses rarely change -----------------------------------------------
    def initialise(self, data: Any) -> None:
        """Called once by the training loop on a fresh run (not on resume), before the first step, with
        its training data (:class:`physgen.train.StoreData` or :class:`physgen.train.TwoSampleData`),
        e.g. to fit an input standardisation. The default does nothing."""

    def calibrate(self, data: Any) -> None:
        """Called by the training loop before each snapshot is scored, with its training data: constants the
        recipe fits to its own samples (kept in :meth:`extra_state`, so snapshots and exports carry them). The
        default fits nothing."""

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimiser per network: ``training.optimizers[name]`` or else ``training.optimizer``."""
        training = self.spec.training
        unknown = sorted(set(training.optimizers) - set(self.networks))
        if unknown:
            msg = f"model {self.spec.name!r}: training.optimizers names {unknown}, networks are {sorted(self.networks)}"
            raise SpecError(msg)
        self.optimizers = {name: build_optimizer(net.parameters(), training.optimizers.get(name, training.optimizer))
                           for name, net in self.networks.items()}
        return self.optimizers

    def optimizer_step(self, name: str, loss: torch.Tensor) -> None:
        """Zero the gradients of network ``name``, back-propagate ``loss``, sync over ranks, step."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.grad_sync(self.networks[name])
        optimizer.step()

    def extra_state(self) -> dict[str, Any]:
        """Recipe state beyond networks and optimisers (saved in checkpoints)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    def state_dict(self) -> dict[str, Any]:
        return {"networks": self.networks.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "extra": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any], *, optimizers: bool = True) -> None:
        self.networks.load_state_dict(state["networks"])
        if optimizers:
            for name, opt_state in state["optimizers"].items():
                self.optimizers[name].load_state_dict(opt_state)
        self.load_extra_state(state.get("extra", {}))
