"""Locally-connected 2D layer: a convolution without weight sharing (paper 000, Fig. 3).

Every output position ``(i, j)`` owns its own filter bank, so the layer can learn that the
centre of a jet image or of a calorimeter layer behaves differently from its rim — the
"location awareness" of LAGAN and CaloGAN.

Semantics follow Keras ``LocallyConnected2D``, the layer the papers used: Keras only has
``padding="valid"``; the papers' "same-bordered" locally-connected layers are an explicit
``ZeroPadding2D`` followed by a valid layer. Here ``padding`` is that explicit zero padding
(``p`` or ``(p_rows, p_cols)`` on both sides), so ``padding=k // 2`` with stride 1 and an odd
kernel is Keras' "same" recipe. Output size per axis: ``(n + 2 p - k) // s + 1``.

Implementation, two exact forms of the same sum (both tested against the naive loop over
positions), chosen by shape because their costs differ by up to 2.5× (measured on CPU, batch 1024,
``benchmarks/bench_generators.py``):

* **offsets** (stride 1, ``C_out > 1``: every generator layer of LAGAN and CaloGAN but the last):
  the zero-padded input is laid out batch-last, ``(rows, cols, C_in, batch)``, so that for each
  kernel offset ``(i, j)`` the inputs of all output positions are one contiguous slice; one batched
  matmul per offset over the positions accumulates ``(C_out, C_in) @ (C_in, batch)`` into the output.
  Rows are computed over the padded width (the extra columns get zero weights and are dropped), so
  every slice is contiguous and nothing the size of all receptive fields is materialised — LAGAN's
  5×5 layer would copy 25× its input into such a matrix.
* **cols** (strides > 1, or a single output channel, where one matrix-vector product per position
  is cheaper than ``kh·kw`` of them): a strided view of all receptive fields (``Tensor.unfold``) of
  the batch-last input is copied once into ``(L, C_in·kh·kw, batch)`` and one batched matmul over
  the ``L`` output positions contracts it with the per-position weights.

``torch.compile`` was measured on both and is slower than either in eager mode (torch 2.13, CPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LocallyConnected2d", "locally_connected2d"]

Pair = int | tuple[int, int]


def _pair(v: Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _out_size(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def locally_connected2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                        kernel_size: Pair, stride: Pair = 1, padding: Pair = 0) -> torch.Tensor:
    """Functional form: ``x (B, C_in, H, W)``, ``weight (H_out·W_out, C_in·kh·kw, C_out)``,
    ``bias (C_out, H_out, W_out)`` or ``None`` → ``(B, C_out, H_out, W_out)``."""
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    if (sh, sw) == (1, 1) and weight.shape[2] > 1:
        out = _by_offsets(x, weight, kh, kw, ph, pw)
    else:
        out = _by_columns(x, weight, kh, kw, sh, sw, ph, pw)
    return out if bias is None else out + bias


def _by_offsets(x: torch.Tensor, weight: torch.Tensor, kh: int, kw: int, ph: int, pw: int) -> torch.Tensor:
    """Stride 1: one batched matmul per kernel offset over contiguous slices of the batch-last input."""
    batch, channels, height, width = x.shape
    rows, cols = height + 2 * ph, width + 2 * pw
    h_out, w_out, c_out = rows - kh + 1, cols - kw + 1, weight.shape[2]
    # (rows + 1, cols, C, B) flattened over positions: the extra zero row keeps the last slice in bounds.
    flat = F.pad(x, (pw, pw, ph, ph + 1)).permute(2, 3, 1, 0).contiguous().view(-1, channels, batch)
    # weights per offset and position (h, w) over the padded width (zeros beyond w_out): (kh·kw, h_out·cols, O, C)
    per_offset = weight.view(h_out, w_out, channels, kh, kw, c_out).permute(3, 4, 0, 1, 5, 2)
    per_offset = F.pad(per_offset, (0, 0, 0, 0, 0, cols - w_out)).reshape(kh * kw, h_out * cols, c_out, channels)
    out = None
    for i in range(kh):
        for j in range(kw):
            start = i * cols + j  # position (h + i, w + j) of the input is start + h·cols + w
            inputs, weights = flat[start:start + h_out * cols], per_offset[i * kw + j]
            out = torch.bmm(weights, inputs) if out is None else torch.baddbmm(out, weights, inputs)
    return out.view(h_out, cols, c_out, batch)[:, :w_out].permute(3, 2, 0, 1)


def _by_columns(x: torch.Tensor, weight: torch.Tensor, kh: int, kw: int, sh: int, sw: int, ph: int,
                pw: int) -> torch.Tensor:
    """Any stride: all receptive fields copied once into ``(L, C·kh·kw, B)``, one batched matmul."""
    batch, channels = x.shape[:2]
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph))
    # The input batch-last (C, H, W, B) — a small copy — then a strided view of every receptive
    # field, (C, H_out, W_out, B, kh, kw) ...
    patches = x.permute(1, 2, 3, 0).contiguous().unfold(1, kh, sh).unfold(2, kw, sw)
    h_out, w_out = patches.shape[1:3]
    # ... copied once into the batch-last (L, C·kh·kw, B) layout, reading contiguous runs of B:
    # 6-8x faster on CPU than gathering (L, B, C·kh·kw) from (B, C, H, W); the matmul then has the
    # batch as its long dimension.
    cols = patches.permute(1, 2, 0, 4, 5, 3).reshape(h_out * w_out, channels * kh * kw, batch)
    out = torch.matmul(weight.transpose(1, 2), cols)  # (L, O, K) @ (L, K, B) -> (L, O, B)
    return out.permute(2, 1, 0).reshape(batch, weight.shape[2], h_out, w_out)


class LocallyConnected2d(nn.Module):
    """2D locally-connected layer (unshared weights), Keras ``LocallyConnected2D`` semantics.

    Parameters
    ----------
    in_channels, out_channels:
        Feature maps in and out.
    in_size:
        ``(H, W)`` of the input — needed because every output position has its own weights.
    kernel_size, stride:
        As for ``nn.Conv2d``.
    padding:
        Explicit zero padding on both sides of each axis (the papers' ``ZeroPadding2D``).
    bias:
        One bias per output channel *and position*, as Keras.

    Initialisation is PyTorch's convolution default (uniform ±1/√fan_in, fan_in = C_in·kh·kw),
    applied to each position's filter bank.
    """

    def __init__(self, in_channels: int, out_channels: int, in_size: Pair, kernel_size: Pair,
                 stride: Pair = 1, padding: Pair = 0, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_size, self.kernel_size = _pair(in_size), _pair(kernel_size)
        self.stride, self.padding = _pair(stride), _pair(padding)
        h_out, w_out = (_out_size(n, k, s, p) for n, k, s, p in
                        zip(self.in_size, self.kernel_size, self.stride, self.padding))
        if h_out < 1 or w_out < 1:
            msg = (f"LocallyConnected2d: kernel {self.kernel_size} with padding {self.padding} does not fit "
                   f"an input of size {self.in_size}")
            raise ValueError(msg)
        self.out_size = (h_out, w_out)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(h_out * w_out, fan_in, out_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels, h_out, w_out).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != (self.in_channels, *self.in_size):
            msg = f"LocallyConnected2d expects (B, {self.in_channels}, {self.in_size[0]}, {self.in_size[1]}), got {tuple(x.shape)}"
            raise ValueError(msg)
        return locally_connected2d(x, self.weight, self.bias, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, in_size={self.in_size}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, out_size={self.out_size}, bias={self.bias is not None}")
