"""Contract tests of every generator net (shapes from the shipped detector specs), and their losses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from physgen.errors import SpecError
from physgen.models.nets import (
    CaloGanDiscriminator,
    CaloGanGenerator,
    CaloGanNormalisedGenerator,
    CaloGanPhysicsDiscriminator,
    ConditionalCaloGanDiscriminator,
    ConditionalCaloGanGenerator,
    DcganDiscriminator,
    DcganGenerator,
    IldCritic,
    IldGenerator,
    LaganDiscriminator,
    LaganGenerator,
    calogan_discriminator_loss,
    calogan_generator_loss,
    lagan_discriminator_loss,
    lagan_generator_loss,
    wgan_critic_loss,
    wgan_generator_loss,
)
from physgen.models.nets.testing import GeneratorNetTests
from physgen.specs import load_spec

DETECTORS = Path(__file__).resolve().parents[1] / "specs" / "detectors"


def detector(name: str):
    return load_spec(DETECTORS / f"{name}.yaml").spec


JETS, CALO, ILD = detector("jet_image_25x25"), detector("calogan_lar3"), detector("ild_ecal_30")


class TestLaganGenerator(GeneratorNetTests):
    expected_shapes = ((25, 25),)
    latent = 32
    generator_class, discriminator_class = LaganGenerator, LaganDiscriminator

    def make_generator(self):
        return self.generator_class.from_detector(JETS, latent_dim=self.latent)

    def make_discriminator(self):
        torch.manual_seed(100)
        return self.discriminator_class.from_detector(JETS)

    def generator_inputs(self, batch, rng):
        return torch.randn(batch, self.latent, generator=rng), torch.randint(0, 2, (batch,), generator=rng)

    def real_batch(self, inputs, rng):
        # jet-like: a hard core at the centre and a softer second prong below it
        images = torch.zeros(inputs[0].shape[0], 25, 25)
        images[:, 12, 12] = 100 * torch.rand(images.shape[0], generator=rng) + 50
        images[:, 16, 12] = 20 * torch.rand(images.shape[0], generator=rng)
        return (images / 100,)

    def discriminator_loss(self, d, real, fake, inputs):
        labels = inputs[1]
        gen = torch.Generator().manual_seed(0)
        return lagan_discriminator_loss(d, real[0], labels, fake[0], labels, generator=gen).total

    def generator_loss(self, d, fake, inputs):
        return lagan_generator_loss(d, fake[0], inputs[1], generator=torch.Generator().manual_seed(0)).total


class TestDcganGenerator(TestLaganGenerator):
    generator_class, discriminator_class = DcganGenerator, DcganDiscriminator


class TestCaloGanGenerator(GeneratorNetTests):
    expected_shapes = ((3, 96), (12, 12), (12, 6))
    latent = 32

    def make_generator(self):
        return CaloGanGenerator.from_detector(CALO, latent_dim=self.latent)

    def make_discriminator(self):
        torch.manual_seed(100)
        return CaloGanDiscriminator.from_detector(CALO)

    def generator_inputs(self, batch, rng):
        energy = 1 + 99 * torch.rand(batch, generator=rng)
        return torch.randn(batch, self.latent, generator=rng), energy

    def real_batch(self, inputs, rng):
        energy = inputs[1]
        shapes = [(3, 96), (12, 12), (12, 6)]
        fractions = (0.1, 0.8, 0.1)
        layers = []
        for (h, w), f in zip(shapes, fractions):
            x = torch.rand(energy.shape[0], h, w, generator=rng) ** 8
            layers.append(f * energy.reshape(-1, 1, 1) * x / x.sum(dim=(1, 2), keepdim=True))
        return tuple(layers)

    def discriminator_loss(self, d, real, fake, inputs):
        return calogan_discriminator_loss(d, real, inputs[1], fake, inputs[1]).total

    def generator_loss(self, d, fake, inputs):
        return calogan_generator_loss(d, fake, inputs[1]).total


class TestCaloGanNormalisedGenerator(TestCaloGanGenerator):
    """The compact options: energy-normalised generator against the physics-feature discriminator
    (cell centres of the CaloGAN layers in mm, docs/PHYSICS.md §2: 160 × 5, 40 × 40, 40 × 80 mm cells)."""

    def make_generator(self):
        return CaloGanNormalisedGenerator(self.expected_shapes, latent_dim=self.latent, hidden=(32,))

    def make_discriminator(self):
        torch.manual_seed(100)

        def centres(n, pitch):
            return pitch * (torch.arange(n, dtype=torch.float32) - (n - 1) / 2)

        grid = [(centres(3, 160.0), centres(96, 5.0)), (centres(12, 40.0), centres(12, 40.0)),
                (centres(12, 40.0), centres(6, 80.0))]
        return CaloGanPhysicsDiscriminator(self.expected_shapes, grid, hidden=(32,), cells=8)

    def discriminator_loss(self, d, real, fake, inputs):
        if not d.fitted:
            d.fit(real, inputs[1])
        return super().discriminator_loss(d, real, fake, inputs)

    def generator_loss(self, d, fake, inputs):
        if not d.fitted:
            d.fit(fake, inputs[1])
        return super().generator_loss(d, fake, inputs)


class TestConditionalCaloGanGenerator(TestCaloGanGenerator):
    def make_generator(self):
        return ConditionalCaloGanGenerator.from_detector(CALO, latent_dim=self.latent)

    def make_discriminator(self):
        torch.manual_seed(100)
        return ConditionalCaloGanDiscriminator.from_detector(CALO)

    def generator_inputs(self, batch, rng):
        z, energy = super().generator_inputs(batch, rng)
        return z, energy, torch.randn(batch, 4, generator=rng)

    def discriminator_loss(self, d, real, fake, inputs):
        return calogan_discriminator_loss(d, real, inputs[1], fake, inputs[1], real_attributes=inputs[2],
                                          attribute_weights=(1.0, 1.0, 0.5, 0.5)).total

    def generator_loss(self, d, fake, inputs):
        return calogan_generator_loss(d, fake, inputs[1], requested_attributes=inputs[2]).total


class TestIldGenerator(GeneratorNetTests):
    expected_shapes = ((30, 30, 30),)
    latent = 16
    batch = 4
    steps = 5

    def make_generator(self):
        return IldGenerator.from_detector(ILD, latent_dim=self.latent, channels=(8, 4, 4))

    def make_discriminator(self):
        torch.manual_seed(100)
        return IldCritic.from_detector(ILD, channels=(4, 8, 8), hidden=32)

    def generator_inputs(self, batch, rng):
        return torch.randn(batch, self.latent, generator=rng), torch.full((batch,), 50.0)

    def real_batch(self, inputs, rng):
        showers = torch.zeros(inputs[0].shape[0], 30, 30, 30)
        showers[:, 5:15, 14:16, 14:16] = 10 * torch.rand(showers.shape[0], 10, 2, 2, generator=rng)
        return (showers,)

    def discriminator_loss(self, d, real, fake, inputs):
        return wgan_critic_loss(d, real[0], fake[0], inputs[1], generator=torch.Generator().manual_seed(0)).total

    def generator_loss(self, d, fake, inputs):
        return wgan_generator_loss(d, fake[0], inputs[1]).total


def test_ild_sample_applies_the_detector_threshold():
    torch.manual_seed(0)
    g = IldGenerator.from_detector(ILD, latent_dim=8, channels=(4, 4, 4))
    assert g.threshold == pytest.approx(0.1)  # 0.1 MeV from specs/detectors/ild_ecal_30.yaml
    z, energy = torch.randn(2, 8), torch.full((2,), 50.0)
    raw, sampled = g.eval()(z, energy), g.sample(z, energy)
    below = (raw > 0) & (raw < 0.1)
    assert below.any()  # untrained output has cells under the cut to remove
    assert (sampled[below] == 0).all()
    assert torch.equal(sampled[raw >= 0.1], raw[raw >= 0.1])


def test_dcgan_has_far_fewer_parameters_than_lagan():
    """Weight sharing is the difference: the LC layers hold most of LAGAN's discriminator."""
    def count(net):
        return sum(p.numel() for p in net.parameters())
    assert count(LaganDiscriminator()) > 10 * count(DcganDiscriminator())


@pytest.mark.parametrize("net", [LaganGenerator, CaloGanGenerator, IldGenerator])
def test_from_detector_rejects_the_wrong_geometry(net):
    wrong = {LaganGenerator: CALO, CaloGanGenerator: ILD, IldGenerator: JETS}[net]
    with pytest.raises(SpecError, match="needs a detector with geometry"):
        net.from_detector(wrong)


def test_calogan_energy_terms():
    """The discriminator sees |E_tot − E_req| and the > 5 GeV flag; its energy head is E_tot."""
    torch.manual_seed(0)
    d = CaloGanDiscriminator([(3, 96), (12, 12), (12, 6)]).eval()
    layers = [torch.zeros(2, 3, 96), torch.zeros(2, 12, 12), torch.zeros(2, 12, 6)]
    layers[1][:, 5, 5] = torch.tensor([30.0, 48.0])
    layers[0][:, 1, 40] = 2.0
    scores = d(layers, torch.tensor([40.0, 50.0]))
    torch.testing.assert_close(scores.total_energy, torch.tensor([32.0, 50.0]))
    loss = calogan_generator_loss(d, layers, torch.tensor([40.0, 50.0]))
    assert loss.parts["energy"] == pytest.approx(4.0)  # mean of |32 − 40| and |50 − 50|


def test_conditional_attribute_loss_uses_per_attribute_weights():
    torch.manual_seed(0)
    sizes = [(3, 96), (12, 12), (12, 6)]
    g, d = ConditionalCaloGanGenerator(sizes, latent_dim=8), ConditionalCaloGanDiscriminator(sizes)
    z, energy, attrs = torch.randn(4, 8), torch.full((4,), 20.0), torch.randn(4, 4)
    fake = g(z, energy, attrs)
    pred = d(fake, energy).attributes.detach()
    per_attribute = (pred - attrs).abs().mean(dim=0)
    weights = (1.0, 0.0, 2.0, 0.0)
    loss = calogan_generator_loss(d, fake, energy, requested_attributes=attrs, attribute_weights=weights)
    expected = float((torch.tensor(weights) * per_attribute).sum())
    assert loss.parts["attributes"] == pytest.approx(expected, rel=1e-5)


def test_unconditional_lagan_has_no_class_head():
    torch.manual_seed(0)
    g, d = LaganGenerator(latent_dim=16, n_classes=1), LaganDiscriminator(n_classes=1)
    fake = g(torch.randn(4, 16))
    adv, aux = d(fake)
    assert adv.shape == (4,) and aux is None
    loss = lagan_generator_loss(d, fake, torch.zeros(4))
    assert set(loss.parts) == {"adversarial"} and torch.isfinite(loss.total)
