"""Building blocks: the locally-connected layer against a naive per-position loop, minibatch
discrimination, sparsity, blur, attention resizing, conditioning, labels, gradient penalty, feature MMD."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from physgen.models.blocks import (
    AdversarialHeads,
    ClassEmbedding,
    FixedBlur2d,
    LayerAttention,
    LocallyConnected2d,
    MinibatchDiscrimination,
    apply_cell_threshold,
    energy_conditioned,
    feature_columns,
    feature_mmd2,
    flip_labels,
    gradient_penalty,
    resize_cells,
    soft_sparsity,
    sparsity,
)


def naive_locally_connected(x, layer: LocallyConnected2d) -> torch.Tensor:
    """Reference: explicit loop over output positions, each with its own filter bank."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    xp = F.pad(x, (pw, pw, ph, ph))
    h_out, w_out = layer.out_size
    out = torch.zeros(x.shape[0], layer.out_channels, h_out, w_out, dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(x.shape[0], -1)  # (B, C·kh·kw)
            out[:, :, i, j] = patch @ layer.weight[i * w_out + j]
            if layer.bias is not None:
                out[:, :, i, j] += layer.bias[:, i, j]
    return out


@pytest.mark.parametrize(("c_in", "c_out"), [(3, 4), (5, 2), (4, 1)])  # C_out 1: the "cols" form at stride 1
@pytest.mark.parametrize(("in_size", "kernel", "stride", "padding", "bias"), [
    ((7, 7), 3, 1, 0, True),
    ((7, 5), 5, 1, 2, True),       # LAGAN generator: "same"-padded 5x5, stride 1 (the "offsets" form)
    ((8, 6), (2, 3), 1, 0, False),
    ((9, 9), 5, 2, 2, True),       # LAGAN discriminator: "same"-padded 5x5, stride 2
    ((6, 10), 3, (1, 2), (1, 1), True),
    ((5, 5), 1, 1, 0, True),
])
def test_locally_connected_matches_naive_loop(in_size, kernel, stride, padding, bias, c_in, c_out):
    torch.manual_seed(0)
    layer = LocallyConnected2d(c_in, c_out, in_size, kernel, stride, padding, bias).double()
    x = torch.randn(2, c_in, *in_size, dtype=torch.float64, requires_grad=True)
    fast, slow = layer(x), naive_locally_connected(x, layer)
    assert fast.shape == (2, c_out, *layer.out_size)
    torch.testing.assert_close(fast, slow)
    g = torch.randn_like(fast)
    grads_fast = torch.autograd.grad(fast, [x, layer.weight], g)
    grads_slow = torch.autograd.grad(slow, [x, layer.weight], g)
    for a, b in zip(grads_fast, grads_slow):
        torch.testing.assert_close(a, b)


def test_locally_connected_in_bfloat16_is_close_to_float32():
    """Generation runs in bf16: the layer (both forms) with bf16 weights and inputs stays within bf16's
    ~3 significant digits of the float32 result (relative RMS < 1 %)."""
    torch.manual_seed(4)
    for c_out, stride in [(6, 1), (1, 1), (6, 2)]:
        layer = LocallyConnected2d(16, c_out, (10, 12), 3, stride, 1)
        x = torch.randn(8, 16, 10, 12)
        exact, low = layer(x), layer.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
        assert ((low - exact).pow(2).mean() / exact.pow(2).mean()).sqrt() < 0.01


def test_locally_connected_is_a_convolution_when_weights_are_shared():
    """Tie every position's filter to one conv kernel: the layer must equal F.conv2d."""
    torch.manual_seed(1)
    layer = LocallyConnected2d(2, 3, (6, 6), 3, stride=1, padding=1, bias=False)
    kernel = torch.randn(3, 2, 3, 3)
    with torch.no_grad():
        layer.weight.copy_(kernel.reshape(3, -1).t().expand(36, -1, -1))
    x = torch.randn(4, 2, 6, 6)
    torch.testing.assert_close(layer(x), F.conv2d(x, kernel, padding=1), atol=1e-5, rtol=1e-5)


def test_locally_connected_weights_are_not_shared():
    """Shifting the input does not shift the output (unlike a convolution)."""
    torch.manual_seed(2)
    layer = LocallyConnected2d(1, 1, (8, 8), 3, padding=1, bias=False)
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 3, 3] = 1.0
    shifted = torch.roll(x, 2, dims=3)
    assert not torch.allclose(torch.roll(layer(x), 2, dims=3), layer(shifted))


def test_locally_connected_rejects_wrong_input_and_kernel():
    with pytest.raises(ValueError, match="does not fit"):
        LocallyConnected2d(1, 1, (3, 3), 5)
    layer = LocallyConnected2d(1, 2, (5, 5), 3)
    with pytest.raises(ValueError, match="expects"):
        layer(torch.zeros(1, 1, 6, 5))


def test_minibatch_discrimination_sees_collapse():
    torch.manual_seed(3)
    mbd = MinibatchDiscrimination(16, kernels=20, dims=10)
    identical = torch.randn(1, 16).expand(8, 16)
    diverse = 5 * torch.randn(8, 16)
    same, varied = mbd(identical), mbd(diverse)
    assert same.shape == varied.shape == (8, 20)
    # identical samples: every exp(-0) = 1, so each feature is the batch size
    torch.testing.assert_close(same, torch.full((8, 20), 8.0))
    assert (varied < same).all() and (varied >= 1.0).all()  # self-term 1 always included
    assert torch.tanh(same).allclose(MinibatchDiscrimination(16, 20, 10, squash=True).eval()(identical))


def test_sparsity_and_soft_sparsity():
    x = torch.tensor([[0.0, 0.0, 0.5, 2.0], [0.0, 1e-4, 0.0, 0.0]])
    torch.testing.assert_close(sparsity(x), torch.tensor([[0.5], [0.25]]))
    soft = soft_sparsity(x, alpha=8.0, scale=1e-5)
    torch.testing.assert_close(soft, sparsity(x), atol=1e-3, rtol=0)  # sharp gate -> hard count
    loose = soft_sparsity(x, alpha=2.0, scale=1e-3)
    assert loose[1, 0] < 0.25 * 0.1  # a 1e-4 cell counts ~1 % of a full hit at scale 1e-3
    xg = x.clone().requires_grad_(True)
    soft_sparsity(xg, alpha=2.0, scale=1.0).sum().backward()
    assert (xg.grad[x > 0] > 0).all()  # the generator gets a gradient (paper 003's point)


def test_fixed_blur_is_a_normalised_box_and_not_trained():
    blur = FixedBlur2d((3, 3))
    assert list(blur.parameters()) == []
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 9.0
    y = blur(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y[0, 0, 1:4, 1:4], torch.ones(3, 3))
    assert y.sum() == pytest.approx(9.0)
    assert FixedBlur2d((1, 2))(torch.ones(1, 1, 3, 4)).shape == (1, 1, 3, 4)


def test_resize_cells_follows_the_calogan_recipe():
    x = torch.arange(3 * 96, dtype=torch.float32).reshape(1, 1, 3, 96)
    y = resize_cells(x, (12, 12))
    assert y.shape == (1, 1, 12, 12)
    # rows repeated 4x, columns averaged over 8
    torch.testing.assert_close(y[0, 0, 5, 2], x[0, 0, 1, 16:24].mean())
    z = resize_cells(torch.ones(2, 1, 12, 12), (12, 6))
    torch.testing.assert_close(z, torch.ones(2, 1, 12, 6))


@pytest.mark.parametrize("local", [False, True])
def test_layer_attention_is_a_convex_mix(local):
    torch.manual_seed(4)
    attend = LayerAttention((12, 6), local=local)
    current, previous = torch.rand(3, 1, 12, 6), torch.rand(3, 1, 12, 12)
    out = attend(current, previous)
    resized = resize_cells(previous, (12, 6))
    lo, hi = torch.minimum(current, resized), torch.maximum(current, resized)
    assert out.shape == (3, 1, 12, 6)
    assert ((out >= lo - 1e-6) & (out <= hi + 1e-6)).all()


def test_conditioning():
    z = torch.ones(3, 4)
    torch.testing.assert_close(energy_conditioned(z, torch.tensor([1.0, 50.0, 100.0]))[:, 0],
                               torch.tensor([0.01, 0.5, 1.0]))
    torch.manual_seed(5)
    emb = ClassEmbedding(2, 4)
    out = emb(z, torch.tensor([0, 1, 1]))
    torch.testing.assert_close(out[1], out[2])
    assert not torch.allclose(out[0], out[1])


def test_flip_labels_rate_and_seed():
    labels = torch.ones(20000)
    flipped = flip_labels(labels, 0.05, torch.Generator().manual_seed(0))
    assert set(flipped.unique().tolist()) == {0.0, 1.0}
    assert (flipped == 0).float().mean().item() == pytest.approx(0.05, abs=0.006)
    again = flip_labels(labels, 0.05, torch.Generator().manual_seed(0))
    assert torch.equal(flipped, again)


def test_adversarial_heads_shapes():
    heads = AdversarialHeads(7, aux_outputs=1)
    adv, aux = heads(torch.randn(5, 7))
    assert adv.shape == aux.shape == (5,)
    adv, aux = AdversarialHeads(7, aux_outputs=3)(torch.randn(5, 7))
    assert aux.shape == (5, 3)
    assert AdversarialHeads(7, aux_outputs=0)(torch.randn(5, 7))[1] is None


def test_apply_cell_threshold():
    x = torch.tensor([0.05, 0.1, 0.2, 0.0])
    torch.testing.assert_close(apply_cell_threshold(x, 0.1), torch.tensor([0.0, 0.1, 0.2, 0.0]))


def test_gradient_penalty_of_a_linear_critic():
    """For C(x) = w·x the input gradient is w everywhere, so GP = (‖w‖ − 1)²."""
    w = torch.tensor([3.0, 4.0])

    def critic(x):
        return x @ w

    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx((5.0 - 1.0) ** 2)


def test_feature_columns_of_grouped_features():
    from physgen.errors import SpecError

    groups, widths = ("energy", "layer_energy", "shower_depth", "sparsity"), (1, 3, 1, 3)
    assert feature_columns("m", groups, widths, None) == slice(None)
    # layout: energy 0 | layer_energy 1 2 3 | shower_depth 4 | sparsity 5 6 7
    assert feature_columns("m", groups, widths, ["sparsity", "energy"]) == [5, 6, 7, 0]
    with pytest.raises(SpecError, match=r"model 'm': mmd_features \['width'\] are not among"):
        feature_columns("m", groups, widths, ["width", "energy"])


def test_feature_mmd2_known_values_and_classes():
    """One point per side in 1-D: MMD² = 2 − 2 exp(−d²/2σ²) per kernel (Gretton et al. 2012, Eq. 3,
    biased estimator: k(x, x) = 1); with classes, the sum of the per-class values."""
    real, fake = torch.tensor([[0.0], [0.0], [5.0], [5.0]]), torch.tensor([[1.0], [1.0], [5.0], [7.0]])
    sigma2 = (2.0,)
    one = 2 - 2 * torch.exp(torch.tensor(-1.0 / 4))
    torch.testing.assert_close(feature_mmd2(real[:1], fake[:1], sigma2), one)
    classes = torch.tensor([0, 0, 1, 1])
    # class 0: both reals at 0, both fakes at 1 → the one-point value; class 1: reals {5, 5}, fakes {5, 7}
    class1 = 1 + (2 + 2 * torch.exp(torch.tensor(-4.0 / 4))) / 4 - 2 * (2 + 2 * torch.exp(torch.tensor(-4.0 / 4))) / 4
    torch.testing.assert_close(feature_mmd2(real, fake, sigma2, classes), one + class1)
    lone = torch.tensor([0, 0, 0, 1])  # a class with one row has no spread: skipped
    torch.testing.assert_close(feature_mmd2(real[:3], fake[:3], sigma2, lone[:3]),
                               feature_mmd2(real[:3], fake[:3], sigma2))
