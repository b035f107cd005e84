"""Device choice and ``torch.distributed`` set-up from the torchrun environment.

Launch several processes with ``torchrun --nproc-per-node K -m physgen.cli train ...``;
each reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` and joins the process group (NCCL on
CUDA, gloo on CPU). Gradients are averaged over ranks per network before every optimiser
step (:func:`average_gradients`, one flattened all-reduce), which is what DDP does, but
works for recipes with several networks and optimisers (GANs) without DDP wrappers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from physgen.errors import PhysgenError

__all__ = ["Distributed", "average_gradients", "broadcast_parameters", "select_device", "setup", "teardown"]


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    owns_group: bool = False
    """Whether :func:`setup` joined the process group (then :func:`teardown` leaves it)."""

    @property
    def main(self) -> bool:
        return self.rank == 0


def select_device(request: str = "auto") -> torch.device:
    """``auto``: CUDA (this process's ``LOCAL_RANK``) if available, else CPU; ``cpu``/``cuda`` force it."""
    if request not in ("auto", "cpu", "cuda") and not request.startswith("cuda:"):
        msg = f"--device must be auto, cpu or cuda, got {request!r}"
        raise PhysgenError(msg)
    if request == "cpu" or (request == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        msg = f"--device {request} asked for but CUDA is not available (torch {torch.__version__})"
        raise PhysgenError(msg)
    return torch.device(request if ":" in request else f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")


def setup(device: torch.device) -> Distributed:
    """Join the process group if launched by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return Distributed(dist.get_rank(), dist.get_world_size(), owns_group)


def teardown(state: Distributed) -> None:
    """Leave the process group that :func:`setup` joined, all ranks together.

    Without it each rank exits with the group still up; rank 0 hosts the rendezvous store, and a
    rank whose gloo threads still talk to it when rank 0 is gone can abort at exit ("terminate
    called without an active exception", SIGABRT), which torchrun reports as a failed run.
    The barrier makes every rank finish its last collective before any of them destroys the group.
    """
    if state.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def broadcast_parameters(module: nn.Module) -> None:
    """Give every rank rank 0's weights."""
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


def average_gradients(module: nn.Module) -> None:
    """Average ``module``'s gradients over all ranks (one all-reduce of the flattened gradients)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for grad, synced in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
        grad.copy_(synced)
