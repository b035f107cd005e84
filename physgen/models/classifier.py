"""Binary classifiers between two samples as model architectures: DCTR (paper 004, docs/PHYSICS.md §8)
and the classifier two-sample tests of ``physgen.metrics``. They train through the same loop as the
GANs (:mod:`physgen.train`: device, AMP, checkpoints, exact resume, DDP, NaN handling).

* ``dctr_mlp``: a multilayer perceptron on a vector of high-level inputs, standardised inside the
  network (mean and std are buffers fitted on the training events when a run starts, so a
  checkpoint is self-contained). Toys: three hidden layers (20-20-20 in 1D; 64-128-256 in 2D);
  ILD high level: two hidden layers of 128 on 33 features.
* ``dctr_cnn3d``: the low-level ILD classifier on 30 × 30 × 30 showers: three conv3d of 128 filters
  3×3×3 (strides 2, 2, 1; padding 1, 1, 0) with layer norm between, then dense 64-256-256-1,
  leaky ReLU (slope 0.01) throughout.
* ``calochallenge_dnn``: the classifier of the Fast Calorimeter Simulation Challenge 2022 (Krause et
  al., arXiv:2410.21611 §4; CaloChallenge/homepage ``code/evaluate.py``): three layers of 2048 with
  leaky ReLU, plain BCE; used by the challenge's classifier tests in :mod:`physgen.metrics.classifier`.

Batches are ``{"inputs": (batch, *input_shape), "label": (batch,)}`` with label 1 = reference and
0 = generated (:class:`physgen.train.TwoSampleData` makes them). The loss is class balanced (½ mean
over reference events + ½ mean over generated events), so the optimal classifier has
f/(1−f) = p_ref/p_gen whatever the sample sizes (see ``physgen.metrics.calibration``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from physgen.errors import SpecError
from physgen.models._base import DataDescription, Recipe, register_architecture
from physgen.specs import ModelSpec, TrainingOptions

__all__ = [
    "CNN3DClassifier", "CNN3DHyperparameters", "ChallengeDNN", "ChallengeDNNHyperparameters", "ClassifierRecipe",
    "ClassifierTrainingOptions", "DCTROptions", "MLPClassifier", "MLPHyperparameters", "balanced_bce", "mean_bce",
]


class ClassifierTrainingOptions(TrainingOptions):
    """``training.options`` of a classifier: the loop's, plus how its two-sample data are read."""

    flip_dims: list[str] = Field(default_factory=list, description="cell dims flipped at random in training")
    best_epoch: Literal["last", "held_out_nll", "held_out_accuracy"] = Field(
        "last", description="the networks kept: the last epoch's, or those of the epoch with the lowest held-out "
                            "loss or the highest held-out accuracy (the Fast Calorimeter Simulation Challenge)")
    block_events: PositiveInt | None = Field(None, description="events read per block (default: the store chunks)")
    cache_mb: PositiveInt = Field(512, description="inputs smaller than this are kept in memory")


class DCTROptions(ClassifierTrainingOptions):
    """``training.options`` of a DCTR model spec: the classifier's, plus how weights are written."""

    clip: float = Field(5.0, ge=1, description="largest weight after normalisation (paper 004: 5)")
    weight_name: str = Field("dctr_weight", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="default name of the weight variable")


class _Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MLPHyperparameters(_Hyperparameters):
    hidden: list[PositiveInt] = Field(default_factory=lambda: [20, 20, 20], min_length=1)
    activation: Literal["relu", "leaky_relu"] = "relu"


class CNN3DHyperparameters(_Hyperparameters):
    filters: PositiveInt = 128
    kernel: PositiveInt = 3
    strides: list[PositiveInt] = Field(default_factory=lambda: [2, 2, 1], min_length=1)
    padding: list[int] = Field(default_factory=lambda: [1, 1, 0], min_length=1)
    dense: list[PositiveInt] = Field(default_factory=lambda: [64, 256, 256])
    negative_slope: float = Field(0.01, ge=0)


def _activation(name: str, negative_slope: float = 0.01) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.LeakyReLU(negative_slope)


class MLPClassifier(nn.Module):
    """Standardise ``(batch, n_inputs)`` with stored mean/std, then hidden layers → one logit."""

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (20, 20, 20), activation: str = "relu"):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), _activation(activation)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def set_standardisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Input shift and scale (from the training data); constant inputs keep scale 1."""
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)


class CNN3DClassifier(nn.Module):
    """3D CNN on ``(batch, depth, height, width)`` showers → one logit (layer norm between convolutions)."""

    def __init__(self, shape: Sequence[int], filters: int = 128, kernel: int = 3,
                 strides: Sequence[int] = (2, 2, 1), padding: Sequence[int] = (1, 1, 0),
                 dense: Sequence[int] = (64, 256, 256), negative_slope: float = 0.01):
        super().__init__()
        if len(strides) != len(padding):
            msg = f"dctr_cnn3d: strides {list(strides)} and padding {list(padding)} need the same length"
            raise SpecError(msg)
        layers: list[nn.Module] = []
        size = list(shape)
        channels = 1
        for i, (stride, pad) in enumerate(zip(strides, padding, strict=True)):
            layers.append(nn.Conv3d(channels, filters, kernel, stride=stride, padding=pad))
            channels = filters
            size = [(s + 2 * pad - kernel) // stride + 1 for s in size]
            if min(size) < 1:
                msg = f"dctr_cnn3d: input shape {list(shape)} is too small for {len(strides)} convolutions"
                raise SpecError(msg)
            if i < len(strides) - 1:
                layers.append(nn.LayerNorm([channels, *size]))
            layers.append(nn.LeakyReLU(negative_slope))
        layers.append(nn.Flatten())
        width = channels * size[0] * size[1] * size[2]
        for units in dense:
            layers += [nn.Linear(width, units), nn.LeakyReLU(negative_slope)]
            width = units
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(1)).squeeze(-1)


def balanced_bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """½ ⟨BCE⟩ over label-1 events + ½ ⟨BCE⟩ over label-0 events (the mean of the one class a batch holds),
    each mean weighted by the event ``weights`` when given (a biased sample's: Σ wℓ / Σ w)."""
    loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none")
    ref = labels > 0.5
    if weights is None:
        parts = [loss[m].mean() for m in (ref, ~ref) if m.any()]
    else:
        parts = [(loss[m] * weights[m]).sum() / weights[m].sum() for m in (ref, ~ref) if m.any()]
    return sum(parts) / len(parts)


def mean_bce(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The plain mean BCE over the batch (event-weighted when ``weights`` are given)."""
    if weights is None:
        return nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
    loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels, reduction="none")
    return (loss * weights).sum() / weights.sum()


class ClassifierRecipe(Recipe):
    """A classifier of ``data.inputs`` (one logit per event), trained with :func:`balanced_bce`.

    ``input_layout``: ``vector`` (inputs flattened and concatenated per event) or ``image`` (one
    input variable of three cell dims).
    """

    TrainingOptions = DCTROptions
    network_names = ("classifier",)
    input_layout: Literal["vector", "image"] = "vector"
    balanced_loss: bool = True
    """False: the plain mean BCE over the batch (the challenge's classifier, trained on equal-size samples)."""

    def __init__(self, spec: ModelSpec, data: DataDescription):
        super().__init__(spec, data)
        self.networks = nn.ModuleDict({"classifier": self.build(self.input_shape(data))})

    def input_shape(self, data: DataDescription) -> tuple[int, ...]:
        if self.input_layout == "image":
            shapes = [data.variables[n].shape for n in data.inputs]
            if len(shapes) != 1 or len(shapes[0]) != 3:
                msg = (f"{self.architecture} needs one 3D image per event (one input variable of 3 cell dims), "
                       f"got inputs {data.inputs} of shapes {shapes}")
                raise SpecError(msg)
            return tuple(shapes[0])
        return (data.width(data.inputs),)

    def build(self, input_shape: tuple[int, ...]) -> nn.Module:
        raise NotImplementedError

    def initialise(self, data) -> None:
        """Fit the MLP's input standardisation on the training events of both samples."""
        network = self.networks["classifier"]
        if hasattr(network, "set_standardisation"):
            mean, std = data.input_moments()
            network.set_standardisation(torch.as_tensor(mean, dtype=torch.float32),
                                        torch.as_tensor(std, dtype=torch.float32))

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.networks["classifier"](inputs)

    def training_step(self, batch, step):
        """One optimiser step on the batch's loss; a batch of weighted stores carries ``weight`` per event."""
        logits, labels = self.logits(batch["inputs"]), batch["label"]
        loss = (balanced_bce if self.balanced_loss else mean_bce)(logits, labels, batch.get("weight"))
        self.optimizer_step("classifier", loss)
        return {"loss": loss.item()}

    def validation_loss(self, logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The held-out NLL the epoch-end log reports: class balanced, or the plain mean (``balanced_loss``),
        event-weighted when ``weights`` are given."""
        from physgen.metrics.calibration import balanced_nll, mean_nll

        if self.balanced_loss:
            return balanced_nll(logits, labels, weights=weights)
        return mean_nll(logits, labels, weights)

    def sample(self, n, conditions, generator):
        msg = f"model {self.spec.name!r} is a classifier ({self.architecture}); it does not generate events"
        raise SpecError(msg)


@register_architecture("dctr_mlp")
class MLPClassifierRecipe(ClassifierRecipe):
    Hyperparameters = MLPHyperparameters

    def build(self, input_shape):
        return MLPClassifier(input_shape[0], self.hp.hidden, self.hp.activation)


@register_architecture("dctr_cnn3d")
class CNN3DClassifierRecipe(ClassifierRecipe):
    Hyperparameters = CNN3DHyperparameters
    input_layout = "image"

    def build(self, input_shape):
        hp = self.hp
        return CNN3DClassifier(input_shape, hp.filters, hp.kernel, hp.strides, hp.padding, hp.dense, hp.negative_slope)


class ChallengeDNNHyperparameters(_Hyperparameters):
    """The classifier of the Fast Calorimeter Simulation Challenge 2022 (``evaluate.py``: ``--cls_n_layer``,
    ``--cls_n_hidden``, ``--cls_dropout_probability``)."""

    n_layer: PositiveInt = Field(2, description="hidden layers after the input layer")
    n_hidden: PositiveInt = 2048
    dropout: float = Field(0.0, ge=0, lt=1)


class ChallengeDNN(nn.Module):
    """Linear(n_in, h) → [LeakyReLU, Dropout, Linear(h, h)] × n_layer → LeakyReLU, Dropout → Linear(h, 1):
    the challenge's DNN (LeakyReLU slope 0.01, no input standardisation, one logit)."""

    def __init__(self, n_inputs: int, n_layer: int = 2, n_hidden: int = 2048, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(n_inputs, n_hidden), nn.LeakyReLU(), nn.Dropout(dropout)]
        for _ in range(n_layer):
            layers += [nn.Linear(n_hidden, n_hidden), nn.LeakyReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(n_hidden, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(-1)


@register_architecture("calochallenge_dnn")
class ChallengeDNNRecipe(ClassifierRecipe):
    """The challenge's classifier: plain BCE (its samples have equal sizes), inputs as prepared by
    :mod:`physgen.metrics.classifier` (no standardisation inside)."""

    Hyperparameters = ChallengeDNNHyperparameters
    TrainingOptions = ClassifierTrainingOptions
    balanced_loss = False

    def build(self, input_shape):
        return ChallengeDNN(input_shape[0], self.hp.n_layer, self.hp.n_hidden, self.hp.dropout)
