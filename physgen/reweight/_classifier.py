"""Training the DCTR classifier: generated (label 0) against reference (label 1), seeded, streamed.

Events are split once into a training and a held-out part (a seeded random subset of each
store). An epoch walks the blocks of the *larger* sample in random order and pairs each with a
block of the other, cycling through it — the smaller sample is tiled to the size of the larger,
as paper 004 tiles the reference for the low-level classifier. Each mini-batch loss is class
balanced (½ mean over reference events + ½ mean over generated events), so the optimal
classifier has f/(1−f) = p_ref/p_gen whatever the sample sizes (see ``_calibration``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from physgen.errors import PhysgenError
from physgen.progress import event_progress
from physgen.reweight._calibration import balanced_nll
from physgen.reweight._inputs import EventSource
from physgen.specs import OptimizerSpec, TrainingSpec

__all__ = ["held_out_logits", "held_out_mask", "predict_logits", "select_device", "train_classifier"]

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adadelta": torch.optim.Adadelta,
               "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


def select_device(name: str = "auto") -> torch.device:
    """``auto``: the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        msg = f"device {name!r} was asked for but no CUDA device is available; use 'auto' or 'cpu'"
        raise PhysgenError(msg)
    return torch.device(name)


def held_out_mask(n_events: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random boolean mask of round(fraction·n) held-out events (at least one of each part)."""
    n_held = min(max(int(round(fraction * n_events)), 1), n_events - 1)
    mask = np.zeros(n_events, dtype=bool)
    mask[rng.choice(n_events, n_held, replace=False)] = True
    return mask


def _blocks(n_events: int, block: int) -> list[tuple[int, int]]:
    return [(start, min(start + block, n_events)) for start in range(0, n_events, block)]


def _optimizer(spec: OptimizerSpec, params) -> torch.optim.Optimizer:
    kwargs = {"lr": spec.lr, "weight_decay": spec.weight_decay}
    if spec.betas is not None and spec.name in ("adam", "adamw"):
        kwargs["betas"] = spec.betas
    return _OPTIMIZERS[spec.name](params, **kwargs)


def _flip(x: torch.Tensor, axes: Sequence[int], generator: torch.Generator) -> torch.Tensor:
    """Flip each event independently with probability ½ along each of ``axes`` (per-event axes)."""
    for axis in axes:
        chosen = torch.rand(x.shape[0], generator=generator) < 0.5
        x = torch.where(chosen.view(-1, *([1] * (x.ndim - 1))).to(x.device), x.flip(axis + 1), x)
    return x


def _standardise(network: nn.Module, sources: Sequence[EventSource], train_masks: Sequence[np.ndarray],
                 block: int) -> None:
    """Set an MLP's input mean and std from the training events of both samples."""
    total, total_sq, count = 0.0, 0.0, 0
    for source, mask in zip(sources, train_masks, strict=True):
        for start, stop in _blocks(source.n_events, block):
            x = source.read(start, stop)[mask[start:stop]].astype(np.float64)
            total, total_sq, count = total + x.sum(0), total_sq + (x**2).sum(0), count + len(x)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    network.set_standardisation(torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32))


@torch.no_grad()
def predict_logits(network: nn.Module, source: EventSource, *, mask: np.ndarray | None = None,
                   block: int = 4096, batch_size: int = 1024, device: torch.device | None = None) -> np.ndarray:
    """Logits of the events of ``source`` (those with ``mask`` True), block by block."""
    device = device or next(network.parameters()).device
    network.eval()
    out = []
    for start, stop in _blocks(source.n_events, block):
        x = source.read(start, stop)
        if mask is not None:
            x = x[mask[start:stop]]
        for i in range(0, len(x), batch_size):
            out.append(network(torch.as_tensor(x[i:i + batch_size], device=device)).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _balanced_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    ref = labels > 0.5
    parts = [loss[m].mean() for m in (ref, ~ref) if m.any()]
    return sum(parts) / len(parts)


def train_classifier(
    network: nn.Module,
    reference: EventSource,
    generated: EventSource,
    held_out: dict[str, np.ndarray],
    training: TrainingSpec,
    *,
    block: int,
    flip_axes: Sequence[int] = (),
    device: torch.device,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``network`` in place; return per-epoch training loss and held-out balanced NLL.

    ``held_out``: boolean masks ``{"reference": ..., "generated": ...}`` of events kept out of training.
    """
    seed = training.seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    flips = torch.Generator().manual_seed(seed + 1)
    train_mask = {"reference": ~held_out["reference"], "generated": ~held_out["generated"]}
    if hasattr(network, "set_standardisation"):
        _standardise(network, (reference, generated), (train_mask["reference"], train_mask["generated"]), block)
    network.to(device)
    optimizer = _optimizer(training.optimizer, network.parameters())
    epochs = training.epochs or (1 if training.steps is None else 10**9)
    sources = {"reference": reference, "generated": generated}
    blocks = {k: _blocks(s.n_events, block) for k, s in sources.items()}
    n_steps_epoch = max(len(b) for b in blocks.values())
    by_steps = training.steps is not None and training.epochs is None
    # events read per epoch (training and held-out ones of each block), so the bar ends at 100 %
    sizes = {k: [stop - start for start, stop in b] for k, b in blocks.items()}
    per_epoch = sum(sizes[k][i % len(sizes[k])] for k in sizes for i in range(n_steps_epoch) if sizes[k])
    total = training.steps * training.batch_size if by_steps else per_epoch * epochs
    history: list[dict[str, float]] = []
    step = 0
    with event_progress("train DCTR classifier", total=total, enabled=progress) as advance:
        for epoch in range(epochs):
            network.train()
            order = {k: rng.permutation(len(b)) for k, b in blocks.items()}
            losses = []
            for i in range(n_steps_epoch):
                xs, ys = [], []
                read = 0
                for label, key in ((1.0, "reference"), (0.0, "generated")):
                    start, stop = blocks[key][order[key][i % len(order[key])]]
                    read += stop - start
                    x = sources[key].read(start, stop)[train_mask[key][start:stop]]
                    xs.append(x)
                    ys.append(np.full(len(x), label, dtype=np.float32))
                x_block, y_block = np.concatenate(xs), np.concatenate(ys)
                perm = rng.permutation(len(x_block))
                for j in range(0, len(perm), training.batch_size):
                    idx = perm[j:j + training.batch_size]
                    x = torch.as_tensor(x_block[idx], device=device)
                    if flip_axes:
                        x = _flip(x, flip_axes, flips)
                    loss = _balanced_bce(network(x), torch.as_tensor(y_block[idx], device=device))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    losses.append(float(loss.detach()))
                    step += 1
                    if training.steps is not None and step >= training.steps:
                        break
                advance(len(x_block) if by_steps else read)
                if training.steps is not None and step >= training.steps:
                    break
            history.append({"epoch": epoch + 1, "steps": step, "train_loss": float(np.mean(losses)),
                            "held_out_nll": _held_out_nll(network, sources, held_out, block, device)})
            if training.steps is not None and step >= training.steps:
                break
    return history


def _held_out_nll(network, sources, held_out, block, device) -> float:
    logits, labels = held_out_logits(network, sources, held_out, block=block, device=device)
    return balanced_nll(logits, labels)


def held_out_logits(network, sources: dict[str, EventSource], held_out: dict[str, np.ndarray], *, block: int,
                    device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels (1 reference, 0 generated) of the held-out events of both samples."""
    ref = predict_logits(network, sources["reference"], mask=held_out["reference"], block=block, device=device)
    gen = predict_logits(network, sources["generated"], mask=held_out["generated"], block=block, device=device)
    return np.concatenate([ref, gen]), np.concatenate([np.ones(len(ref)), np.zeros(len(gen))])
