"""Contract tests every generator net passes, written once and reused by subclassing
(as zarr's ``StoreTests``): ``class TestMyGenerator(GeneratorNetTests): ...``.

A subclass says how to build its generator and discriminator, how to draw generator inputs
and a tiny "real" batch, and which losses to use; the base class checks output shapes,
non-negative (ReLU) outputs, seed determinism, the ``state_dict`` round trip, and that a few
optimiser steps are finite and lower the discriminator's and the generator's losses.
"""

from __future__ import annotations

import io

import torch
from torch import nn

__all__ = ["GeneratorNetTests"]


def _as_tuple(out) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


class GeneratorNetTests:
    """Base class of generator contract tests (pytest collects the ``test_*`` methods of subclasses).

    Subclasses set ``expected_shapes`` (per-sample shape of each output tensor) and implement
    the ``make_*``/``*_inputs``/``*_loss`` hooks.
    """

    expected_shapes: tuple[tuple[int, ...], ...] = ()
    non_negative: bool = True
    batch: int = 6
    steps: int = 8

    # --- hooks -------------------------------------------------------------------------
    def make_generator(self) -> nn.Module:
        raise NotImplementedError

    def make_discriminator(self) -> nn.Module:
        raise NotImplementedError

    def generator_inputs(self, batch: int, rng: torch.Generator) -> tuple:
        """``(z, *conditions)`` for ``generator(*inputs)``."""
        raise NotImplementedError

    def real_batch(self, inputs: tuple, rng: torch.Generator) -> tuple[torch.Tensor, ...]:
        """A tiny "real" sample matching the generator's outputs (for the given conditions)."""
        raise NotImplementedError

    def discriminator_loss(self, d: nn.Module, real, fake, inputs) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, d: nn.Module, fake, inputs) -> torch.Tensor:
        raise NotImplementedError

    # --- helpers -----------------------------------------------------------------------
    def _built(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return self.make_generator()

    def _inputs(self, seed: int, batch: int | None = None) -> tuple:
        return self.generator_inputs(batch or self.batch, torch.Generator().manual_seed(seed))

    # --- the contract ------------------------------------------------------------------
    def test_output_shapes(self):
        out = _as_tuple(self._built(0)(*self._inputs(1)))
        assert [tuple(o.shape) for o in out] == [(self.batch, *s) for s in self.expected_shapes]
        assert all(torch.isfinite(o).all() for o in out)

    def test_non_negative(self):
        if not self.non_negative:
            return
        net = self._built(0)
        for o in _as_tuple(net(*self._inputs(2))):
            assert o.min() >= 0.0

    def test_seed_determinism(self):
        a, b, c = self._built(3), self._built(3), self._built(4)
        for x, y in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.equal(x, y)
        inputs = self._inputs(5)
        with torch.no_grad():
            out_a, out_b, out_c = (_as_tuple(n.eval()(*inputs)) for n in (a, b, c))
            out_again = _as_tuple(a(*self._inputs(5)))
        assert all(torch.equal(x, y) for x, y in zip(out_a, out_b))
        assert all(torch.equal(x, y) for x, y in zip(out_a, out_again))
        assert any(not torch.equal(x, y) for x, y in zip(out_a, out_c))

    def test_state_dict_round_trip(self):
        trained = self._built(6)
        trained(*self._inputs(7))  # move batch-norm running statistics off their initial values
        buffer = io.BytesIO()
        torch.save(trained.state_dict(), buffer)
        fresh = self._built(8)
        fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
        inputs = self._inputs(9)
        with torch.no_grad():
            expected, got = _as_tuple(trained.eval()(*inputs)), _as_tuple(fresh.eval()(*inputs))
        assert all(torch.equal(x, y) for x, y in zip(expected, got))

    def test_discriminator_learns(self):
        """A few discriminator steps on fixed tiny data: finite, and its loss goes down."""
        g, d = self._built(10), self.make_discriminator()
        inputs = self._inputs(11)
        real = self.real_batch(inputs, torch.Generator().manual_seed(12))
        with torch.no_grad():
            fake = _as_tuple(g(*inputs))
        opt = torch.optim.Adam(d.parameters(), lr=1e-3)
        losses = []
        for _ in range(self.steps):
            loss = self.discriminator_loss(d, real, fake, inputs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert all(map(torch.isfinite, map(torch.tensor, losses)))
        assert losses[-1] < losses[0]

    def test_generator_learns(self):
        """A few generator steps against a fixed discriminator: finite, and its loss goes down."""
        g, d = self._built(13), self.make_discriminator()
        d.eval()
        for p in d.parameters():
            p.requires_grad_(False)
        inputs = self._inputs(14)
        opt = torch.optim.Adam(g.parameters(), lr=1e-3)
        losses = []
        for _ in range(self.steps):
            loss = self.generator_loss(d, _as_tuple(g(*inputs)), inputs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert all(map(torch.isfinite, map(torch.tensor, losses)))
        assert losses[-1] < losses[0]
